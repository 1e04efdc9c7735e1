"""Why a contribution failed, in words a provider understands, with what to do next.

Every failure the client library raises is a :class:`ContributionError` with a stable
``code`` (for programs), a ``sentence`` and a ``next_step`` (for people). The CLI prints
them; the desktop app shows them. Nothing here contains a key, a secret or a balance.
"""

from __future__ import annotations

# code -> (what happened, what to do next)
MESSAGES: dict[str, tuple[str, str]] = {
    "bad_api_key": ("The exchange did not accept your API key or secret.",
                    "Check the key and secret in Settings; the key needs read-only account access."),
    "exchange_refused": ("The exchange refused the request.",
                         "Wait a minute and try again; check that your computer's clock is correct."),
    "exchange_unreachable": ("The exchange could not be reached through the notary.",
                             "Try again later."),
    "exchange_untrusted": ("This app does not trust the exchange's certificate, so it sent nothing.",
                           "Retrying will not help. If this deployment uses a test exchange (the "
                           "simulator), its deployment file must name the exchange's CA in "
                           "exchange_ca_file; otherwise your connection may be intercepted: try another "
                           "network and report it to the deployment's operators."),
    "exchange_untrusted_by_notary": ("The notary does not trust the exchange's certificate.",
                                     "Retrying will not help: the notary's operator must add the "
                                     "exchange's CA to its trust_roots. Please report this."),
    "notary_unreachable": ("The notary service is not reachable.",
                           "Check your internet connection, or try again later."),
    "notary_refused": ("The notary refused to notarize this request.",
                       "Try again later; if it persists, the deployment may not serve this exchange."),
    "field_not_found": ("Your account answer does not contain an ETH balance we can prove.",
                        "Make sure the account holds ETH (even 0) and try again."),
    "already_counted": ("This exchange account is already part of the pool.",
                        "Nothing to do: each account counts once."),
    "registration_in_progress": ("A contribution for this account is already in progress.",
                                 "Wait for it to finish, then check the results."),
    "rate_limited": ("The service is busy right now.",
                     "Wait a minute and try again."),
    "attestation_rejected": ("The servers did not accept the notary's proof.",
                             "Try again; if it persists, your app may be configured for another deployment."),
    "rejected": ("The computation parties could not verify your balance, so it was not counted.",
                 "Try again; nothing about your balance was stored."),
    "shares_disputed": ("The computation parties found the pieces of your balance inconsistent, so it "
                        "was not counted.",
                        "This app always splits a balance consistently: one of the servers, or a "
                        "connection to one, may have misbehaved. Please report this to the "
                        "deployment's operators; you may try again."),
    "shares_faulty": ("The computation parties found that the pieces of your balance this app sent do "
                      "not match what it committed to, so it was not counted.",
                      "This app deals every piece on its committed line, so this should not happen: "
                      "please report it to the deployment's operators (it may be a bug); you may try "
                      "again."),
    "party_unavailable": ("One of the computation servers is not available.",
                          "Try again later; nothing about your balance was stored."),
    "network": ("The connection was lost.",
                "Check your internet connection and try again; nothing was counted twice."),
    "waiting_for_party": ("Your shares were sent, but a computation party is down, so verification waits "
                          "for it.",
                          "Nothing is lost: your contribution is verified when the party is back. Check "
                          "the results later; contributing again is not needed."),
    "timeout": ("Verification is taking longer than expected.",
                "Check the status again later; your contribution may still be counted."),
    "cancelled": ("You cancelled the contribution.", "Nothing was sent to the servers."),
    "unsupported": ("This exchange connection uses encryption we cannot prove.",
                    "Please report this; try again later."),
    "untrusted_party": ("The service asked to send your shares to servers this app does not know.",
                        "Nothing was sent. Check the app's deployment settings, and report this."),
    "internal": ("Something unexpected went wrong.", "Try again; if it persists, report it."),
}


class ContributionError(Exception):
    """A failed contribution step: ``code``, ``sentence``, ``next_step``, ``detail``."""

    def __init__(self, code: str, detail: str = "") -> None:
        sentence, next_step = MESSAGES.get(code, MESSAGES["internal"])
        super().__init__(f"{sentence} {next_step}" + (f" ({detail})" if detail else ""))
        self.code = code
        self.sentence = sentence
        self.next_step = next_step
        self.detail = detail
