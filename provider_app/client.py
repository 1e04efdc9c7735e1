"""The provider client library: notarize → confirm → register → share → wait.

The headless CLI (``mpcstats provide``) and the desktop app drive exactly these
functions; neither holds protocol logic of its own. Nothing leaves the machine
before :func:`ProviderClient.register`, which the caller runs only after the user
saw their own balance and uid and confirmed. What leaves then: the attestation and
the public record material (ciphertext), the claimed uid, and to each party one
share of the record key and one share of the balance — never a whole key or balance.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from mpc_programs.shares.dealing import (CLIENT_KEY, KEY, LAYOUT, ProviderDealing, deal_rows,
                                         encode_elements, key_bits)
from mpc_programs.shares.encoding import EncodingError, one_hot, to_units
from mpc_programs.shares.store import encode_row
from provider_app.errors import ContributionError
from provider_app.notary_client import NotaryClient, NotaryClientError
from provider_app.responses import decode
from tlsn import (Credentials, ProverError, ProverSession, SignedAttestation, TLSNError,
                  UnsupportedCipherError, client_context, load_spec)

FINAL = ("accepted", "rejected", "expired")


@dataclass
class DeploymentConfig:
    """Which deployment to contribute to (shipped with the app, overridable in settings)."""

    coordinator_url: str
    notary_url: str
    source: str = "binance_eth"
    #: TLS server name of the exchange (default: the source spec's host).
    exchange_host: str | None = None
    #: Extra CA file to trust for the exchange (the local simulator); None = system roots.
    exchange_ca_file: str | None = None
    #: The three computation parties, pinned by the deployment. Shares go there and nowhere
    #: else: a coordinator that named other servers could collect all three shares.
    party_urls: list[str] = field(default_factory=list)
    timeout: float = 20.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DeploymentConfig":
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown deployment setting(s): {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass
class Notarized:
    """The result of notarization — private to this machine until the user confirms."""

    session: ProverSession
    attestation: SignedAttestation
    bytes_relayed: int
    #: the verifiable dealing of the values' rows and the keys' bits, made once, when first
    #: registered (``ProviderClient.dealing``)
    dealing: ProviderDealing | None = field(default=None, repr=False)

    @property
    def uid(self) -> str:
        return self.session.uid

    @property
    def balance(self) -> str:
        return self.session.balance


@dataclass
class Registration:
    session_id: str
    token: str
    parties: list[str]
    key_length: int
    expires_at: float


@dataclass
class Outcome:
    status: str
    reason: str | None
    session_id: str
    uid: str
    seconds: float
    history: list[str] = field(default_factory=list)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise ContributionError("cancelled")


class ProviderClient:
    def __init__(self, config: DeploymentConfig, http: requests.Session | None = None) -> None:
        self.config = config
        self.http = http or requests.Session()
        self.spec = load_spec(config.source)

    # -- HTTP -------------------------------------------------------------------------------
    def _request(self, method: str, url: str, *, json: Any = None, token: str | None = None,
                 patience: float = 0.0) -> dict[str, Any]:
        """One call; with ``patience`` > 0 a 429 is retried after its Retry-After while the
        total wait stays within ``patience`` seconds (for steps that must not be lost)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        waited = 0.0
        while True:
            try:
                response = self.http.request(method, url, json=json, headers=headers,
                                             timeout=self.config.timeout)
            except requests.Timeout as exc:
                raise ContributionError("network", "timed out") from exc
            except requests.RequestException as exc:
                raise ContributionError("network", type(exc).__name__) from exc
            body, code, message = decode(response)
            if code is None:
                return body
            delay = _retry_after(response)
            if response.status_code == 429 and waited + delay <= patience:
                time.sleep(delay)
                waited += delay
                continue
            raise ContributionError(_map_server_code(code, response.status_code), message or "")

    # -- steps ------------------------------------------------------------------------------
    def notarize(self, credentials: Credentials,
                 cancel: threading.Event | None = None) -> Notarized:
        """Fetch the account through the notary; nothing is sent to the MPC servers."""
        _check_cancel(cancel)
        notary = NotaryClient(self.config.notary_url, timeout=self.config.timeout)
        host = self.config.exchange_host or self.spec.host
        try:
            context = client_context(cafile=self.config.exchange_ca_file)
            result = notary.notarize(self.spec, credentials, host=host, context=context)
        except NotaryClientError as exc:
            code = {"notary_unreachable": "notary_unreachable",
                    "upstream_unreachable": "exchange_unreachable",
                    "certificate_untrusted": "exchange_untrusted_by_notary",
                    "rate_limited": "rate_limited"}.get(exc.code, "notary_refused")
            raise ContributionError(code, exc.code) from exc
        except UnsupportedCipherError as exc:
            raise ContributionError("unsupported", str(exc)) from exc
        except ProverError as exc:
            raise ContributionError(_map_prover_error(exc), exc.reason) from exc
        except TLSNError as exc:
            raise ContributionError("notary_refused", str(exc)) from exc
        except OSError as exc:
            raise ContributionError("network", type(exc).__name__) from exc
        _check_cancel(cancel)
        return Notarized(result.session, result.attestation, result.bytes_relayed)

    def registration_document(self, notarized: Notarized) -> dict[str, Any]:
        """Every record from the response's first (after any TLS 1.3 tickets, which are named
        too) through the last one holding a field, and the fields' positions in the response."""
        session = notarized.session
        located = ["uid"] + [c for c in self.spec.columns if c in session.fields]
        last = max(session.fields[name].record for name in located)
        records = list(session.tickets) + session.records[:last + 1]
        return {
            "source": self.spec.name,
            "attestation": notarized.attestation.to_dict(),
            "records": [{"index": r.index, "seq": r.seq, "header": r.header.hex(),
                         "payload": r.payload.hex()} for r in records],
            "iv": session.server_write_iv.hex(),
            "tickets": len(session.tickets),
            "fields": {name: {"offset": session.stream_offset(name),
                              "length": session.fields[name].length} for name in located},
            "uid": session.uid,
            "request": self._request_document(session),
            "dealing": self.dealing(notarized).public.to_json(),
        }

    def dealing(self, notarized: Notarized) -> ProviderDealing:
        """The values' share rows and the record keys' bits, dealt with commitments
        (``mpc_programs.shares.dealing``): made once per notarization, so the registration's
        commitments and the uploads agree."""
        if notarized.dealing is None:
            try:
                units = {c: to_units(v) for c, v in self.column_values(notarized).items()}
            except EncodingError as exc:
                raise ContributionError("field_not_found", str(exc)) from exc
            primary = self.spec.primary
            rows = {LAYOUT if c == primary else c: one_hot(u) for c, u in units.items()}
            rows[KEY] = key_bits(notarized.session.server_write_key)
            rows[CLIENT_KEY] = key_bits(notarized.session.client_write_key)
            notarized.dealing = deal_rows(rows)
        return notarized.dealing

    def _request_document(self, session: ProverSession) -> dict[str, Any]:
        """The request record and its public values (timestamp, signature, API key length): the
        parties rebuild the request from the spec and check it inside MPC; the API key stays
        secret (and so the signature alone lets nobody call the exchange)."""
        record = session.request_record
        if record is None:
            raise ContributionError("notary_refused", "the request record is missing")
        timestamp, signature, api_key_length = self.spec.request_values(session.request)
        return {"index": record.index, "seq": record.seq, "header": record.header.hex(),
                "payload": record.payload.hex(), "iv": session.client_write_iv.hex(),
                "timestamp": timestamp, "signature": signature, "api_key_length": api_key_length}

    def extra_columns(self, notarized: Notarized) -> dict[str, str | None]:
        """The columns beyond the balance, each value or None (missing), for the user to see."""
        values = self.column_values(notarized)
        return {c: values.get(c) for c in self.spec.columns[1:]}

    def column_values(self, notarized: Notarized) -> dict[str, str]:
        """The notarized value of every column the response has (missing ones left out)."""
        fields = notarized.session.fields
        return {c: fields[c].value for c in self.spec.columns if c in fields}

    def register(self, notarized: Notarized) -> Registration:
        """Send the attestation and public record material; get a session and party URLs."""
        body = self._request("POST", self.config.coordinator_url.rstrip("/") + "/v1/registrations",
                             json=self.registration_document(notarized))
        return Registration(body["session_id"], body["token"], list(body["parties"]),
                            int(body["key_length"]), float(body["expires_at"]))

    def share(self, notarized: Notarized, registration: Registration) -> None:
        """Send each party its own shares of the balance, the columns and the record keys' bits
        (dealt once, :meth:`dealing`), then mark ready."""
        if len(notarized.session.server_write_key) != registration.key_length:
            raise ContributionError("unsupported", "key length differs from the negotiated suite")
        dealt = self.dealing(notarized)
        parties = self.pinned_parties(registration)
        for pid, url in enumerate(parties):
            rows = dealt.rows[pid]
            self._request("POST", f"{url.rstrip('/')}/v1/sessions/{registration.session_id}/shares",
                          json={"key_bits": encode_elements(rows[KEY]),
                                "client_key_bits": encode_elements(rows[CLIENT_KEY]),
                                "layout": encode_row(rows[LAYOUT]),
                                "columns": {c: encode_row(r) for c, r in rows.items()
                                            if c not in (LAYOUT, KEY, CLIENT_KEY)},
                                "dealing": dealt.parts[pid].to_json()},
                          token=registration.token, patience=SHARE_PATIENCE_SECONDS)
        del rows
        self._request("POST", self.config.coordinator_url.rstrip("/")
                      + f"/v1/registrations/{registration.session_id}/ready",
                      token=registration.token, patience=SHARE_PATIENCE_SECONDS)

    def pinned_parties(self, registration: Registration) -> list[str]:
        """The deployment's own party URLs; refuse if the coordinator named others."""
        pinned = [u.rstrip("/") for u in self.config.party_urls]
        if len(pinned) != 3:
            raise ContributionError("untrusted_party",
                                    "this app's deployment does not list the three parties")
        if [u.rstrip("/") for u in registration.parties] != pinned:
            raise ContributionError("untrusted_party",
                                    "the coordinator named other computation servers")
        return pinned

    def status(self, registration: Registration) -> dict[str, Any]:
        return self._request("GET", self.config.coordinator_url.rstrip("/")
                             + f"/v1/registrations/{registration.session_id}",
                             token=registration.token)

    def wait(self, registration: Registration, *, timeout: float = 600.0, interval: float = 0.25,
             on_status: Callable[[str], None] | None = None,
             cancel: threading.Event | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last = None
        waiting_since: float | None = None
        while True:
            try:
                state = self.status(registration)
            except ContributionError as exc:
                if exc.code != "rate_limited" or time.monotonic() > deadline:
                    raise
                time.sleep(1.0)  # polling is optional work: back off and ask again
                continue
            if state["status"] != last and on_status is not None:
                on_status(state["status"])
            last = state["status"]
            if state["status"] in FINAL:
                return state
            # a party is down: the run waits for it; say so within seconds instead of timing out
            if state.get("waiting_for"):
                waiting_since = waiting_since or time.monotonic()
                if time.monotonic() - waiting_since >= OUTAGE_PATIENCE_SECONDS:
                    raise ContributionError("waiting_for_party", str(state["waiting_for"]))
            else:
                waiting_since = None
            if time.monotonic() > deadline:
                raise ContributionError("timeout")
            if cancel is not None and cancel.wait(interval):
                # shares were sent: the run goes on without us; we just stop watching
                raise ContributionError("timeout", "stopped waiting")
            if cancel is None:
                time.sleep(interval)

    def contribute(self, credentials: Credentials, *,
                   confirm: Callable[[Notarized], bool] = lambda n: True,
                   progress: Callable[[str, str], None] = lambda step, text: None,
                   cancel: threading.Event | None = None, timeout: float = 600.0) -> Outcome:
        """The whole flow; raises :class:`ContributionError` on any failure."""
        started = time.monotonic()
        progress("notarize", "Fetching your account through the notary…")
        notarized = self.notarize(credentials, cancel)
        extra = "".join(f"; {c}: {v if v is not None else 'missing'}"
                        for c, v in self.extra_columns(notarized).items())
        progress("confirm", f"Your ETH balance is {notarized.balance} (account {notarized.uid}){extra}.")
        if not confirm(notarized):
            raise ContributionError("cancelled")
        _check_cancel(cancel)
        progress("register", "Registering the notarized proof…")
        registration = self.register(notarized)
        progress("share", "Sending one share to each computation party…")
        self.share(notarized, registration)
        history: list[str] = []

        def on_status(status: str) -> None:
            history.append(status)
            progress("verify", f"Verification: {status.replace('_', ' ')}")

        final = self.wait(registration, timeout=timeout, on_status=on_status)
        if final["status"] != "accepted":
            raise final_error(final)
        progress("done", "Your balance is counted. Thank you!")
        return Outcome(final["status"], final.get("reason"), registration.session_id,
                       notarized.uid, time.monotonic() - started, history)


#: How long a provider watches a registration that waits for a party that is down before it is
#: told so (the registration stays queued and is verified when the party is back).
OUTAGE_PATIENCE_SECONDS = 15.0

def final_error(final: dict[str, Any]) -> ContributionError:
    """The error for a registration that ended without being counted. "Already counted" is said
    only here, after the uid was proven inside MPC — never before (no membership oracle).

    A dealing the parties proved faulty (``shares_faulty``) has its own code: this client deals
    every sharing on its committed line, and a complaint needs this contribution's own dealer
    signature, so for its user it means a bug, and it is asked to report it. "Inconsistent
    shares" (``shares_disputed``) cannot reach this client's users any more (their dealing is
    checked instead); a client without a dealing would mean a server or the network erred."""
    reason = final.get("reason") or final["status"]
    if "already stored" in reason or "already counted" in reason:
        return ContributionError("already_counted", reason)
    if "do not match its commitments" in reason:
        return ContributionError("shares_faulty", reason)
    if "inconsistent shares" in reason:
        return ContributionError("shares_disputed", reason)
    return ContributionError("rejected", reason)


#: How long a rate-limited share upload is retried: the registration is already made, and a
#: half-shared session only expires.
SHARE_PATIENCE_SECONDS = 30.0


def _retry_after(response: requests.Response) -> float:
    try:
        return min(max(float(response.headers.get("Retry-After", "1")), 0.1), 10.0)
    except ValueError:
        return 1.0


def _map_server_code(code: str, status: int) -> str:
    if status == 429:
        return "rate_limited"
    if code in ("already_counted", "registration_in_progress"):
        return code
    if code.startswith("attestation_") or code in ("records_not_contiguous", "not_first_response",
                                                   "one_request", "invalid_record"):
        return "attestation_rejected"  # the proof does not fit: the detail names the cause
    if status >= 500 or code in ("party_unavailable", "party_unreachable"):
        return "party_unavailable"
    if code == "unknown_session":
        return "rejected"
    return "internal"


def _map_prover_error(exc: ProverError) -> str:
    if exc.reason == "http_status":
        text = str(exc)
        if "401" in text or "-2014" in text or "-1022" in text or "-2015" in text:
            return "bad_api_key"
        return "exchange_refused"
    if exc.reason in ("field_not_found", "field_not_unique", "field_spans_records"):
        return "field_not_found"
    if exc.reason == "padded_record":
        return "unsupported"
    if exc.reason == "tls_handshake_failed" and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "exchange_untrusted"  # retrying never helps: say so, and what to set
    if exc.reason in ("timeout", "connection_closed", "tls_handshake_failed", "truncated_response"):
        return "exchange_unreachable"
    return "notary_refused"
