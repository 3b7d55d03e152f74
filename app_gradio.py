"""`python app_gradio.py`: the seed's name for starting the app. It starts the whole web app
(`make run`: webhooks, the browser UI, workers), with the same login, hosts and limits: a
second server with its own rules would be a second door. The UI itself is in
`assistant/web/ui/`."""

from assistant.cli import main
from assistant.web.ui import build_ui

__all__ = ["build_ui", "main"]

if __name__ == "__main__":
    raise SystemExit(main(["run"]))
