"""The web layer, thin over `assistant/`: the FastAPI app factory (`app`) and its route
modules (`routes`), who may call what (`security`, `auth`), the admin report's data and
templates (`report`, `templates/`), and the Gradio UI (`ui`)."""
