"""Speech: voice notes checked and decoded within a budget (`audio`), then turned to text
behind one `Transcriber` interface and the errors every engine maps its failures to
(`base`), with OpenAI's transcription (`openai`) and a local Whisper (`local`,
faster-whisper) whose weights come from a directory, a pinned registry package or
faster-whisper's download (`weights`). Each engine's `build` makes it from the settings;
`assistant.engines` lists them."""

from assistant.speech.audio import AudioTooLong, CorruptAudio, UnsupportedCodec, probe
from assistant.speech.base import (
    EngineUnavailable,
    Transcriber,
    TranscriptionError,
    UnsupportedAudio,
    accepts,
)
from assistant.speech.local import LocalWhisperTranscriber
from assistant.speech.openai import OpenAITranscriber
from assistant.speech.weights import ModelUnavailable

__all__ = [
    "AudioTooLong",
    "CorruptAudio",
    "EngineUnavailable",
    "LocalWhisperTranscriber",
    "ModelUnavailable",
    "OpenAITranscriber",
    "Transcriber",
    "TranscriptionError",
    "UnsupportedAudio",
    "UnsupportedCodec",
    "accepts",
    "probe",
]
