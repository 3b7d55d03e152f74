"""Operating on the data around the assistant: Parquet export (`export`), deterministic demo
data (`demo`), quality evaluation of search and dialogues (`evaluate`), throw-away
assistants on fresh databases (`sandbox`), notebook analysis helpers (`analysis`), and
generated sample media (`samples`)."""
