"""The main window: a stack of pages and the controller of the guided contribute flow.

Protocol work lives in :mod:`provider_app.client`; this module only decides which page to
show, starts each step in a :class:`~provider_app.gui.worker.Task` (off the GUI thread) and
shows what comes back. Every failure ends on the error page with the client library's
sentence and next step, and every page has a way back, so the app stays usable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import QMainWindow, QStackedWidget, QToolBar, QWidget

from provider_app import settings as store
from provider_app.errors import ContributionError
from provider_app.gui import pages
from provider_app.gui.worker import Task

STATUS_TEXT = {
    "waiting_for_shares": "Waiting for all three shares to arrive…",
    "queued": "Waiting for the next verification batch…",
    "verifying": "The three servers are checking the notary's proof and decrypting only the "
                 "balance field, inside MPC…",
    "accepted": "Verified and counted.",
    "rejected": "The servers could not verify the proof.",
    "expired": "The registration expired before verification.",
}
VERIFY_TIMEOUT = 300.0


class MainWindow(QMainWindow):
    def __init__(self, data_dir: Path, settings: store.AppSettings,
                 deployment_file: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.data_dir = Path(data_dir)
        self.settings = settings
        self.deployment_file = deployment_file
        self.setWindowTitle("MPCStats — contribute privately")
        self.resize(780, 580)

        self.stack = QStackedWidget()
        self.setCentralWidget(self.stack)
        self.home = pages.HomePage()
        self.privacy = pages.PrivacyPage()
        self.key_page = pages.KeyPage()
        self.notarize_page = pages.NotarizePage()
        self.confirm_page = pages.ConfirmPage()
        self.sending_page = pages.SendingPage()
        self.done_page = pages.DonePage()
        self.error_page = pages.ErrorPage()
        self.results_page = pages.ResultsPage()
        for page in (self.home, self.privacy, self.key_page, self.notarize_page, self.confirm_page,
                     self.sending_page, self.done_page, self.error_page, self.results_page):
            self.stack.addWidget(page)

        toolbar = QToolBar("Navigation")
        toolbar.setMovable(False)
        self.addToolBar(toolbar)
        self.home_action = self._action(toolbar, "Home", self.go_home)
        self.contribute_action = self._action(toolbar, "Contribute", self.start_contribution)
        self.results_action = self._action(toolbar, "Results", self.show_results)
        self.settings_action = self._action(toolbar, "Settings…", self.open_settings)
        self.forget_action = self._action(toolbar, "Forget my key", self.forget_key)

        self.home.contribute_button.clicked.connect(self.start_contribution)
        self.home.results_button.clicked.connect(self.show_results)
        self.home.forget_button.clicked.connect(self.forget_key)
        self.privacy.back_button.clicked.connect(self.go_home)
        self.privacy.continue_button.clicked.connect(self._after_privacy)
        self.privacy.change_key_button.clicked.connect(self._ask_key)
        self.key_page.back_button.clicked.connect(self.start_contribution)
        self.key_page.continue_button.clicked.connect(self._key_entered)
        self.key_page.secret.returnPressed.connect(self._key_entered)
        self.notarize_page.cancel_button.clicked.connect(self.cancel_flow)
        self.confirm_page.cancel_button.clicked.connect(self.cancel_flow)
        self.confirm_page.send_button.clicked.connect(self._send)
        self.sending_page.stop_button.clicked.connect(self._stop_waiting)
        self.done_page.home_button.clicked.connect(self.go_home)
        self.done_page.results_button.clicked.connect(self.show_results)
        self.error_page.home_button.clicked.connect(self.go_home)
        self.error_page.retry_button.clicked.connect(self._retry)
        self.error_page.change_key_button.clicked.connect(self._ask_key)
        self.error_page.settings_button.clicked.connect(self.open_settings)
        self.results_page.home_button.clicked.connect(self.go_home)
        self.results_page.refresh_button.clicked.connect(self.refresh_results)

        self._flow_task: Task | None = None
        self._results_task: Task | None = None
        self._session_key: store.StoredKey | None = None  # only when not kept in the keyring
        self._client: Any = None
        self._notarized: Any = None
        self._pending_key: tuple[store.StoredKey, bool] | None = None
        self.settings_dialog: Any = None
        self._show_deployment()
        self.go_home()

    @staticmethod
    def _action(toolbar: QToolBar, text: str, slot: Any) -> QAction:
        action = QAction(text, toolbar)
        action.triggered.connect(slot)
        toolbar.addAction(action)
        return action

    # -- helpers ---------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return str(self.settings.provider.get("source", "binance_eth"))

    def current_key(self) -> store.StoredKey | None:
        return self._session_key or store.load_key(self.source)

    def _key_hint(self) -> str | None:
        key = self.current_key()
        return key.hint() if key else None

    def _show_deployment(self) -> None:
        self.statusBar().showMessage(
            f"Deployment: {self.settings.provider.get('coordinator_url')} ({self.settings.origin})")

    def _abandon_flow(self) -> None:
        if self._flow_task is not None:
            self._flow_task.abandon()
            self._flow_task = None
        self._client = self._notarized = None  # the notarized balance and key leave memory
        self._pending_key = None

    def page(self) -> QWidget | None:
        return self.stack.currentWidget()

    # -- navigation ------------------------------------------------------------------------------
    def go_home(self) -> None:
        self._abandon_flow()
        self.home.show_key(self._key_hint())
        self.home.show_history(store.load_history(self.data_dir))
        self.stack.setCurrentWidget(self.home)

    def start_contribution(self) -> None:
        self._abandon_flow()
        self.privacy.show_key(self._key_hint())
        self.stack.setCurrentWidget(self.privacy)

    def _after_privacy(self) -> None:
        key = self.current_key()
        if key is None:
            self._ask_key()
        else:
            self._notarize(key)

    def _retry(self) -> None:
        if self.error_page.code == "bad_api_key":
            self._ask_key()  # the same key would fail the same way
        else:
            self._after_privacy()

    def _ask_key(self) -> None:
        self._abandon_flow()
        self.key_page.clear()
        self.stack.setCurrentWidget(self.key_page)
        self.key_page.api_key.setFocus()

    def _key_entered(self) -> None:
        api_key, secret = self.key_page.api_key.text().strip(), self.key_page.secret.text().strip()
        if not api_key or not secret:
            self.key_page.message.setText("Please enter both the API key and its secret.")
            return
        remember = self.key_page.remember.isChecked()
        self.key_page.clear()
        # kept in the keyring only once the exchange accepted it (see _notarized_ok)
        self._notarize(store.StoredKey(api_key, secret), new_key=True, remember=remember)

    def _keep_key(self, key: store.StoredKey, remember: bool) -> None:
        self._session_key = None
        if remember:
            try:
                store.save_key(self.source, key)
                return
            except store.KeyringUnavailable:
                self.statusBar().showMessage("No system keyring is available: your key is kept only "
                                             "until you close the app.")
        self._session_key = key

    def forget_key(self) -> None:
        had = store.forget_key(self.source) or self._session_key is not None
        self._session_key = None
        self.statusBar().showMessage("Your API key was removed from this computer." if had
                                     else "No API key was saved.")
        self.home.show_key(None)
        self.privacy.show_key(None)

    # -- the flow --------------------------------------------------------------------------------
    def _notarize(self, key: store.StoredKey, *, new_key: bool = False,
                  remember: bool = True) -> None:
        self._abandon_flow()
        settings = self.settings
        self._pending_key = (key, remember) if new_key else None

        def work(task: Task) -> Any:
            from provider_app.client import ProviderClient
            from tlsn import Credentials
            client = ProviderClient(settings.deployment_config())
            return client, client.notarize(Credentials(key.api_key, key.secret), cancel=task.cancel)

        self.notarize_page.status.setText("Asking the exchange for your account through the notary…")
        self.stack.setCurrentWidget(self.notarize_page)
        self._flow_task = Task(work, on_done=self._notarized_ok, on_error=self.show_error).start()

    def cancel_flow(self) -> None:
        pending = self._pending_key
        self._abandon_flow()
        self._pending_key = pending
        self.show_error(ContributionError("cancelled"))

    def _notarized_ok(self, value: Any) -> None:
        self._flow_task = None
        self._client, self._notarized = value
        if self._pending_key is not None:
            self._keep_key(*self._pending_key)
            self._pending_key = None
        self.confirm_page.show_notarized(self._notarized.balance, self._notarized.uid,
                                         self._client.extra_columns(self._notarized))
        self.stack.setCurrentWidget(self.confirm_page)

    def _send(self) -> None:
        client, notarized = self._client, self._notarized
        if client is None or notarized is None:
            return
        source = self.source

        def work(task: Task) -> dict[str, Any]:
            task.progress(("register", "busy"))
            registration = client.register(notarized)
            task.progress(("register", "done"))
            task.progress(("share", "busy"))
            client.share(notarized, registration)
            task.progress(("share", "done"))
            task.progress(("verify", "busy"))
            final = client.wait(registration, timeout=VERIFY_TIMEOUT, cancel=task.cancel,
                                on_status=lambda status: task.progress(("status", status)))
            if final["status"] != "accepted":
                from provider_app.client import final_error
                raise final_error(final)
            task.progress(("verify", "done"))
            return {"uid": notarized.uid, "session_id": registration.session_id, "source": source}

        self.sending_page.reset()
        self.stack.setCurrentWidget(self.sending_page)
        self._flow_task = Task(work, on_done=self._accepted, on_error=self.show_error,
                               on_progress=self._sending_progress).start()
        self._send_started = _now()

    def _sending_progress(self, value: tuple[str, str]) -> None:
        what, state = value
        if what == "status":
            self.sending_page.status.setText(STATUS_TEXT.get(state, state.replace("_", " ")))
        else:
            self.sending_page.mark(what, state)

    def _stop_waiting(self) -> None:
        self._abandon_flow()
        self.show_error(ContributionError("timeout", "stopped waiting"))

    def _accepted(self, outcome: dict[str, Any]) -> None:
        self._flow_task = None
        self._client = self._notarized = None
        store.add_history(self.data_dir, outcome["source"], outcome["uid"], outcome["session_id"])
        self.done_page.show_outcome(outcome["uid"], _now() - self._send_started)
        self.stack.setCurrentWidget(self.done_page)

    def show_error(self, exc: BaseException) -> None:
        self._flow_task = None
        self._client = self._notarized = None
        if not isinstance(exc, ContributionError):
            exc = ContributionError("internal", type(exc).__name__)
        if self._pending_key is not None and exc.code != "bad_api_key":
            self._keep_key(*self._pending_key)  # not proven wrong: don't make the user retype it
        self._pending_key = None
        self.error_page.show_error(exc.code, exc.sentence, exc.next_step, exc.detail)
        self.stack.setCurrentWidget(self.error_page)

    # -- results ---------------------------------------------------------------------------------
    def show_results(self) -> None:
        self._abandon_flow()
        self.stack.setCurrentWidget(self.results_page)
        self.refresh_results()

    def refresh_results(self) -> None:
        if self._results_task is not None:
            self._results_task.abandon()
        url = self.settings.results_url

        def work(task: Task) -> tuple[dict[str, Any], list[tuple[str, str]]]:
            from provider_app.pool import fetch_stats, statistic_rows
            result = fetch_stats(url)
            return result, statistic_rows(result.get("statistics") or {})

        self.results_page.show_loading()
        self._results_task = Task(work, on_done=self._results_ok, on_error=self._results_failed).start()

    def _results_ok(self, value: tuple[dict[str, Any], list[tuple[str, str]]]) -> None:
        self._results_task = None
        self.results_page.show_result(*value)

    def _results_failed(self, exc: BaseException) -> None:
        from provider_app.pool import ResultsUnavailable
        self._results_task = None
        if isinstance(exc, ResultsUnavailable):
            self.results_page.show_message(exc.sentence)
        else:
            self.results_page.show_message("The statistics could not be shown "
                                           f"({type(exc).__name__}). Press Refresh to try again.")

    # -- settings --------------------------------------------------------------------------------
    def open_settings(self) -> None:
        from provider_app.gui.settings_dialog import SettingsDialog
        self.settings_dialog = SettingsDialog(self.settings, self._key_hint(), self)
        self.settings_dialog.finished.connect(self._settings_closed)
        self.settings_dialog.open()

    def _settings_closed(self, result: int) -> None:
        dialog, self.settings_dialog = self.settings_dialog, None
        if dialog is None:
            return
        if dialog.forget_requested:
            self.forget_key()
        if result and dialog.new_key is not None:
            self._keep_key(store.StoredKey(*dialog.new_key), remember=True)
            dialog.new_key = None
        if result and dialog.reset_requested:
            store.reset_settings(self.data_dir)
            self.settings = store.load_settings(self.data_dir, self.deployment_file)
        elif result and dialog.result_settings is not None:
            store.save_settings(self.data_dir, dialog.result_settings)
            self.settings = dialog.result_settings
        self._show_deployment()
        if self.stack.currentWidget() is self.home:
            self.home.show_key(self._key_hint())
        dialog.deleteLater()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._abandon_flow()
        if self._results_task is not None:
            self._results_task.abandon()
        super().closeEvent(event)


def _now() -> float:
    import time
    return time.monotonic()
