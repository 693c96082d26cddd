"""Answers: statements, answerability, composing cited text, generators and the answer function."""

from assistant.answer.assistant import Assistant
from assistant.answer.generate import ExtractiveGenerator, Generator, load_generator
from assistant.answer.types import REFUSAL, Answer, Citation

__all__ = ["Answer", "Assistant", "Citation", "ExtractiveGenerator", "Generator", "REFUSAL", "load_generator"]
