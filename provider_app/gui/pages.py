"""The app's pages: one widget per step of the contribute flow, plus home and results.

Pages only lay out text and controls and expose them as attributes; the main window
(:mod:`provider_app.gui.window`) decides what happens when a button is pressed.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any, ClassVar

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from provider_app.gui.histogram import HistogramWidget

FLOW_STEPS = 5


def local_time(seconds: float) -> str:
    return _dt.datetime.fromtimestamp(seconds).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def _label(text: str = "", *, wrap: bool = True, rich: bool = False, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(wrap)
    label.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if name:
        label.setObjectName(name)
    return label


def _button(text: str, name: str, *, default: bool = False) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setDefault(default)
    button.setAutoDefault(default)
    button.setMinimumHeight(32)
    return button


class Page(QWidget):
    """A title, an optional "Step i of n" line, a body and a row of buttons at the bottom."""

    title = ""
    step = 0
    #: the body takes the spare height (tables, charts) instead of a blank gap above the buttons
    expand = False

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(28, 20, 28, 20)
        outer.setSpacing(12)
        if self.step:
            step = _label(f"Step {self.step} of {FLOW_STEPS}", name="step_label")
            step.setStyleSheet("color: #666;")
            outer.addWidget(step)
        self.heading = _label(f"<h2>{self.title}</h2>", rich=True, name="heading")
        outer.addWidget(self.heading)
        self.body = QVBoxLayout()
        self.body.setSpacing(10)
        outer.addLayout(self.body, 1 if self.expand else 0)
        if not self.expand:
            outer.addStretch(1)
        self.buttons = QHBoxLayout()
        self.buttons.addStretch(1)
        outer.addLayout(self.buttons)

    def set_heading(self, text: str) -> None:
        self.heading.setText(f"<h2>{text}</h2>")


class HomePage(Page):
    title = "Pool your balance — privately"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body.addWidget(_label(
            "MPCStats lets many people combine their exchange balances into shared statistics "
            "(mean, median, spread) while nobody — not the servers, not other people — ever sees "
            "one person's number. Your balance is proven straight from the exchange, split into "
            "three meaningless pieces on this computer, and counted by three independent servers "
            "that only ever publish totals."))
        self.key_label = _label(name="key_label")
        self.forget_button = _button("Forget my key", "forget_button")
        row = QHBoxLayout()
        row.addWidget(self.key_label, 1)
        row.addWidget(self.forget_button)
        self.body.addLayout(row)
        self.body.addWidget(_label("<b>Your contributions on this computer</b>", rich=True))
        self.history_list = QListWidget()
        self.history_list.setObjectName("history_list")
        self.history_list.setMaximumHeight(120)
        self.body.addWidget(self.history_list)
        self.results_button = _button("See the pool's statistics", "results_button")
        self.contribute_button = _button("Contribute my balance…", "contribute_button", default=True)
        self.buttons.addWidget(self.results_button)
        self.buttons.addWidget(self.contribute_button)

    def show_key(self, hint: str | None) -> None:
        if hint:
            self.key_label.setText(f"Exchange API key {hint} is saved in your system keyring.")
        else:
            self.key_label.setText("No exchange API key saved. You will be asked for one when you "
                                   "contribute.")
        self.forget_button.setEnabled(bool(hint))

    def show_history(self, entries: list[Any]) -> None:
        self.history_list.clear()
        if not entries:
            self.history_list.addItem("None yet.")
        for e in reversed(entries):
            self.history_list.addItem(f"Account {e.uid} ({e.source}) — counted "
                                      f"{local_time(e.contributed_at)}")


class PrivacyPage(Page):
    title = "What stays private, what is revealed"
    step = 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body.addWidget(_label(
            "<p><b>Stays private</b></p><ul>"
            "<li>Your balance. It is shown to you on this computer and then split into three "
            "random-looking shares, one per computation server. No single server can read it.</li>"
            "<li>Your API key and secret. They are kept in your system keyring and used only to ask "
            "the exchange for your account; they are never sent to MPCStats.</li>"
            "<li>The exchange's answer. The notary relays it encrypted and never sees its content.</li>"
            "</ul><p><b>Is revealed</b></p><ul>"
            "<li>Your exchange account number (uid), to the coordinator and the computation "
            "servers, so each account counts only once.</li>"
            "<li>How many digits your balance has (the length of the encrypted answer), to the "
            "notary and the servers.</li>"
            "<li>That you took part, and the pool's statistics, which everyone can read.</li>"
            "</ul><p>Nothing leaves this computer until you have seen your balance and confirmed.</p>",
            rich=True))
        self.key_label = _label(name="key_label")
        self.body.addWidget(self.key_label)
        self.back_button = _button("Back", "back_button")
        self.change_key_button = _button("Use another key…", "change_key_button")
        self.continue_button = _button("Continue", "continue_button", default=True)
        for b in (self.back_button, self.change_key_button, self.continue_button):
            self.buttons.addWidget(b)

    def show_key(self, hint: str | None) -> None:
        self.key_label.setText(f"The saved API key {hint} will be used." if hint else
                               "Next, you will enter a read-only API key for your exchange account.")
        self.change_key_button.setVisible(bool(hint))


class KeyPage(Page):
    title = "Your exchange API key"
    step = 2

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body.addWidget(_label(
            "Create a read-only API key in your exchange account settings (no trading, no "
            "withdrawals) and paste the key and its secret here. The app uses them only to ask the "
            "exchange for your balance."))
        form = QFormLayout()
        self.api_key = QLineEdit()
        self.api_key.setObjectName("api_key")
        self.secret = QLineEdit()
        self.secret.setObjectName("secret")
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("API key", self.api_key)
        form.addRow("Secret", self.secret)
        self.body.addLayout(form)
        self.remember = QCheckBox("Remember in my system keyring (never in a file)")
        self.remember.setObjectName("remember")
        self.remember.setChecked(True)
        self.body.addWidget(self.remember)
        self.message = _label(name="message")
        self.message.setStyleSheet("color: #b00020;")
        self.body.addWidget(self.message)
        self.back_button = _button("Back", "back_button")
        self.continue_button = _button("Fetch my balance", "continue_button", default=True)
        self.buttons.addWidget(self.back_button)
        self.buttons.addWidget(self.continue_button)

    def clear(self) -> None:
        self.api_key.clear()
        self.secret.clear()
        self.message.clear()


class NotarizePage(Page):
    title = "Fetching your balance"
    step = 3

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = _label("Asking the exchange for your account through the notary…",
                             name="status")
        self.body.addWidget(self.status)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy
        self.body.addWidget(self.progress)
        self.body.addWidget(_label(
            "The notary relays the encrypted connection to the exchange and signs what it saw; "
            "it cannot read your balance. Nothing is sent to the computation servers yet."))
        self.cancel_button = _button("Cancel", "cancel_button")
        self.buttons.addWidget(self.cancel_button)


class ConfirmPage(Page):
    title = "Check before sending"
    step = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body.addWidget(_label("The exchange says (only you can see this):"))
        grid = QFormLayout()
        self.balance = _label(name="balance", wrap=False)
        self.balance.setStyleSheet("font-size: 20pt; font-weight: bold;")
        self.uid = _label(name="uid", wrap=False)
        grid.addRow("ETH balance", self.balance)
        grid.addRow("Account (uid)", self.uid)
        self.body.addLayout(grid)
        self.extra = _label(name="extra")  # further columns of a multi-column source
        self.extra.setVisible(False)
        self.body.addWidget(self.extra)
        self.explain = _label(name="explain")
        self.body.addWidget(self.explain)
        self.cancel_button = _button("Cancel — send nothing", "cancel_button")
        self.send_button = _button("Count my balance", "send_button", default=True)
        self.buttons.addWidget(self.cancel_button)
        self.buttons.addWidget(self.send_button)

    def show_notarized(self, balance: str, uid: str,
                       extra: Mapping[str, str | None] | None = None) -> None:
        """``extra``: the source's further columns, each value or None when the exchange's
        answer lacks it (then that column is missing for this contribution)."""
        self.balance.setText(f"{balance} ETH")
        self.uid.setText(uid)
        parts = [f"{name}: {value}" if value is not None else f"{name}: not in the answer (left out)"
                 for name, value in (extra or {}).items()]
        self.extra.setText("Also counted, shared the same way — " + "; ".join(parts) if parts else "")
        self.extra.setVisible(bool(parts))
        digits = len(balance.replace(".", ""))
        self.explain.setText(
            f"If you continue, the coordinator learns account {uid} and the servers learn that the "
            f"balance field has {digits} characters. The balance itself is split into three shares "
            "here and each computation server receives one share, which alone says nothing.")


class SendingPage(Page):
    title = "Counting your balance"
    step = 5
    STEPS = (("register", "Register the notary's proof"),
             ("share", "Send one share to each computation server"),
             ("verify", "Servers check the proof together (inside MPC)"))

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.items: dict[str, QLabel] = {}
        for key, text in self.STEPS:
            label = _label(name=f"step_{key}")
            label.setProperty("text_base", text)
            self.items[key] = label
            self.body.addWidget(label)
        self.status = _label(name="status")
        self.status.setStyleSheet("color: #444;")
        self.body.addWidget(self.status)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.body.addWidget(self.progress)
        self.stop_button = _button("Stop waiting", "stop_button")
        self.buttons.addWidget(self.stop_button)
        self.reset()

    def reset(self) -> None:
        for key, _ in self.STEPS:
            self.mark(key, "todo")
        self.status.clear()

    def mark(self, key: str, state: str) -> None:
        symbol = {"todo": "○", "busy": "◐", "done": "●"}[state]
        label = self.items[key]
        text = label.property("text_base")
        label.setText(f"{symbol}  {text}" + ("…" if state == "busy" else ""))
        label.setProperty("state", state)


class DonePage(Page):
    title = "Your balance is counted"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = _label(name="message")
        self.body.addWidget(self.message)
        self.home_button = _button("Done", "home_button")
        self.results_button = _button("See the pool's statistics", "results_button", default=True)
        self.buttons.addWidget(self.home_button)
        self.buttons.addWidget(self.results_button)

    def show_outcome(self, uid: str, seconds: float) -> None:
        self.message.setText(
            f"The three computation servers verified the proof for account {uid} and stored their "
            f"shares (took {seconds:.1f} s). Your balance will be part of the next published "
            "statistics. Thank you!")


class ErrorPage(Page):
    title = "Not counted"
    HEADINGS: ClassVar[dict[str, str]] = {"cancelled": "Cancelled", "already_counted": "Already counted",
                                          "registration_in_progress": "Already in progress",
                                          "timeout": "Still verifying"}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.code = ""
        self.sentence = _label(name="sentence")
        self.sentence.setStyleSheet("font-size: 13pt; font-weight: bold;")
        self.next_step = _label(name="next_step")
        self.detail = _label(name="detail")
        self.detail.setStyleSheet("color: #777;")
        for w in (self.sentence, self.next_step, self.detail):
            self.body.addWidget(w)
        self.home_button = _button("Back to start", "home_button")
        self.settings_button = _button("Settings…", "settings_button")
        self.change_key_button = _button("Enter another key…", "change_key_button")
        self.retry_button = _button("Try again", "retry_button", default=True)
        for b in (self.home_button, self.settings_button, self.change_key_button, self.retry_button):
            self.buttons.addWidget(b)

    def show_error(self, code: str, sentence: str, next_step: str, detail: str = "") -> None:
        self.code = code
        self.set_heading(self.HEADINGS.get(code, "Not counted"))
        self.sentence.setText(sentence)
        self.next_step.setText(next_step)
        self.detail.setText(f"Details: {code}" + (f" — {detail}" if detail else ""))
        self.change_key_button.setVisible(code == "bad_api_key")
        self.settings_button.setVisible(code in ("notary_unreachable", "network", "internal",
                                                 "attestation_rejected", "notary_refused"))


class ResultsPage(Page):
    title = "The pool's statistics"
    expand = True

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = _label(name="summary")
        self.body.addWidget(self.summary)
        self.message = _label(name="message")
        self.body.addWidget(self.message)
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("table")
        self.table.setHorizontalHeaderLabels(["Statistic", "Value"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.histogram = HistogramWidget()
        self.histogram.setObjectName("histogram")
        row = QHBoxLayout()
        row.addWidget(self.table, 1)
        frame = QFrame()
        frame.setFrameShape(QFrame.Shape.StyledPanel)
        inner = QVBoxLayout(frame)
        inner.addWidget(self.histogram)
        row.addWidget(frame, 1)
        self.body.addLayout(row, 1)
        self.home_button = _button("Back", "home_button")
        self.refresh_button = _button("Refresh", "refresh_button", default=True)
        self.buttons.addWidget(self.home_button)
        self.buttons.addWidget(self.refresh_button)

    def show_loading(self) -> None:
        self.message.setText("Loading the latest statistics…")
        self.refresh_button.setEnabled(False)

    def show_message(self, text: str) -> None:
        self.refresh_button.setEnabled(True)
        self.message.setText(text)

    def show_result(self, result: dict[str, Any], rows: list[tuple[str, str]]) -> None:
        self.refresh_button.setEnabled(True)
        n = result.get("n")
        computed = result.get("computed_at")
        when = local_time(float(computed)) if isinstance(computed, (int, float)) else "unknown time"
        self.summary.setText(f"Computed {when} over {n} provider{'s' if n != 1 else ''}, agreed and "
                             "signed by all three computation servers.")
        self.message.clear()
        self.table.setRowCount(len(rows))
        for i, (label, value) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(label))
            item = QTableWidgetItem(value)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, 1, item)
        self.histogram.set_histogram((result.get("statistics") or {}).get("histogram"))
