"""A worker process whose brain kills the process on any message containing "boom"
(a message that crashes its worker every time: out of memory, a native crash...).

    python -m tests.helpers.crashing_worker      (settings from the environment)
"""

from __future__ import annotations

import logging
import os
import threading

from assistant.brains.base import BrainReply, Turn
from assistant.brains.offline import OfflineBrain
from assistant.config import get_settings
from assistant.factory import build_services
from assistant.tools import Toolbox
from assistant.worker import Worker


class CrashingBrain(OfflineBrain):
    def respond(self, turn: Turn, tools: Toolbox) -> BrainReply:
        if "boom" in turn.text:
            os._exit(9)  # no exception, no cleanup: the process is simply gone
        return super().respond(turn, tools)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    services = build_services(get_settings())
    services.assistant.brain = CrashingBrain()
    Worker(services).run(threading.Event())


if __name__ == "__main__":
    main()
