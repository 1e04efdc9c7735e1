"""MPyC party program for tests/test_request_binding.py (run as 3 processes): verify this
party's submissions (from the JSON file $MPCSTATS_TEST_JOB) and print the verdicts."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from mpc_programs.runtime.hardened_runtime import mpc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mpc_programs.verification.verify_inputs import (  # noqa: E402
    submission_from_json,
    verify_submissions,
)


async def main() -> None:
    await mpc.start()
    job = json.loads(Path(os.environ["MPCSTATS_TEST_JOB"]).read_text())
    submissions = [submission_from_json(doc) for doc in job[mpc.pid]]
    verdicts = await verify_submissions(submissions)
    print(json.dumps({"party": mpc.pid, "verdicts": verdicts}), flush=True)
    await mpc.shutdown()


if __name__ == "__main__":
    mpc.run(main())
