"""Entry point of the browser app alone (`python app_gradio.py`): the same web app as
`make run`, with the same login, hosts and limits (the UI itself is `assistant/web/ui/`)."""

from assistant.web.ui import build_ui, main

__all__ = ["build_ui", "main"]

if __name__ == "__main__":
    main()
