"""The app's routes, one small module per audience (each channel's webhooks live with the
channel, in `assistant/channels/`): anyone (`public`:
health, signed media links), the login (`login`), the admin (`admin`, and `users`: who
may use the assistant, under /admin/), Prometheus (`metrics`). Each module's `router(web)`
builds its routes over the shared `Web` context."""

from dataclasses import dataclass

from assistant.config import Settings
from assistant.factory import Services
from assistant.spool import Recorder
from assistant.web.auth import Sessions


@dataclass(frozen=True)
class Web:
    services: Services
    sessions: Sessions
    recorder: Recorder
    mount_ui: bool

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def home(self) -> str:
        return "/ui/" if self.mount_ui else "/report"
