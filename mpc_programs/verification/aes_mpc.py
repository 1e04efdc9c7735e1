"""AES-128/256 encryption of public blocks under secret keys, batched over keys and blocks.

Inputs: each party's GF(2^8) Shamir shares of P keys (shape (P, 16) or (P, 32), uint8) and P x n
public 16-byte blocks. Output: shares of the P x n ciphertext blocks (nothing is opened here).

Cost: the S-box is the only non-linear step (4 rounds in :meth:`Gf256Engine.sbox`). The key
expansion is pipelined with the encryption: round key K[i] needs one S-box layer on the last word
of K[i-1], exactly when the state needs its round-i S-box layer, so both run in one call. AES-128
therefore takes 10 x 4 = 40 rounds and AES-256 14 x 4 = 56 rounds, whatever P and n are; the data
per round is 16 bytes per block plus 4 per key. ShiftRows, MixColumns and AddRoundKey are linear
and local. Byte layout follows FIPS-197: state byte r + 4c is row r, column c.
"""

from __future__ import annotations

import numpy as np

from mpc_programs.verification import gf256
from mpc_programs.verification.gf256_mpc import Gf256Engine

_SHIFT = np.array([r + 4 * ((c + r) % 4) for c in range(4) for r in range(4)])
_RCON = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36]


def _mix_columns(s: np.ndarray) -> np.ndarray:
    cols = s.reshape(s.shape[:-1] + (4, 4))  # [..., column, row]
    r1 = np.roll(cols, -1, axis=-1)
    r2 = np.roll(cols, -2, axis=-1)
    r3 = np.roll(cols, -3, axis=-1)
    out = gf256.MUL[2][cols] ^ gf256.MUL[3][r1] ^ r2 ^ r3
    return out.reshape(s.shape)


async def encrypt(engine: Gf256Engine, key: np.ndarray, blocks: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Shares of AES_key(block) for keys (P, 16|32) and public blocks (P, n, 16).

    Returns (ciphertext shares (P, n, 16), round-key shares (P, Nr+1, 16)).
    """
    p, klen = key.shape
    nk = klen // 4
    if nk not in (4, 8):
        raise ValueError("AES-128 or AES-256 key required")
    nr = nk + 6
    w = [key[:, 4 * j:4 * j + 4] for j in range(nk)]
    round_keys = [np.concatenate(w[0:4], axis=1)]
    s = np.asarray(blocks, dtype=np.uint8) ^ round_keys[0][:, None, :]
    n = s.shape[1]
    for i in range(1, nr + 1):
        need_key = 4 * i >= nk
        x = s.reshape(-1)
        if need_key:
            x = np.concatenate([x, w[4 * i - 1].reshape(-1)])
        y = await engine.sbox(x)
        s = y[:p * n * 16].reshape(p, n, 16)
        if need_key:
            t = y[p * n * 16:].reshape(p, 4)
            if (4 * i) % nk == 0:
                t = np.roll(t, -1, axis=1)
                t[:, 0] ^= np.uint8(_RCON[4 * i // nk - 1])
            w.append(w[4 * i - nk] ^ t)
            for j in range(4 * i + 1, 4 * i + 4):
                w.append(w[j - nk] ^ w[j - 1])
        round_keys.append(np.concatenate(w[4 * i:4 * i + 4], axis=1))
        s = s[..., _SHIFT]
        if i < nr:
            s = _mix_columns(s)
        s = s ^ round_keys[i][:, None, :]
    return s, np.stack(round_keys, axis=1)
