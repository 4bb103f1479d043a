"""The per-record checks of the `synthetic` stage, as plain functions of strings (no polars), so
each can be tested and measured alone.

Refusal and self-disclosure patterns are built from the grammar of declining (a first-person
inability or unwillingness followed by a verb of doing the task, an apology followed by one) and of
self-reference ("as an AI ...", "I don't have personal opinions"), never from topic words: lists
that drop every answer mentioning "ethics" or "illegal" remove ordinary answers about those topics.
"""
from __future__ import annotations

import re
from difflib import SequenceMatcher

# --- refusal --------------------------------------------------------------------------------------
_I = r"I"
_NEG = (r"(?:can(?:'|’)?t|cannot|can not|won(?:'|’)t|will not|shouldn(?:'|’)t|should not|"
        r"must not|am not (?:able|allowed|permitted|going|comfortable|programmed)|'m not (?:able|allowed|permitted|going|"
        r"comfortable|programmed)|’m not (?:able|allowed|permitted|going|comfortable|programmed)|"
        r"am unable|'m unable|’m unable|are unable|(?:do|does)(?:n(?:'|’)t| not) (?:feel comfortable|think (?:it(?:'|’)s|it is) "
        r"appropriate)|must (?:respectfully )?decline|have to (?:respectfully )?decline|(?:respectfully )?decline|"
        r"refuse|(?:'|’)d (?:rather|prefer) not|would (?:rather|prefer) not|am not in a position|'m not in a position)")
# What the model declines to do: doing the task, not any verb (so "I can't wait" or "I cannot stress
# enough" are not refusals).
_TASK = (r"(?:help|assist|aid|provide|give|offer|share|supply|fulfil+|comply|complete|carry out|perform|do (?:that|this|so|it)|"
         r"create|generate|write|compose|produce|draft|make|answer|respond|reply|address|engage|participate|support|"
         r"condone|endorse|encourage|promote|recommend|suggest|advise|help with|continue|browse|access|view|see|open|"
         r"look at|read|watch|listen|play|visit|retrieve|display|show|draw|sing|translate|predict|guess|say|tell|"
         r"express|discuss|speculate|judge|rate|rank|pick|choose|take|act|pretend|role-?play|be (?:of )?(?:any )?help|"
         r"go (?:along|into)|list|name|identify|classify|determine|verify|confirm|process|execute|run|send|book|order|"
         r"call|contact|search|find|locate|diagnose|prescribe|perform that|fulfill?ing|assisting|helping|providing|"
         r"creating|generating|writing|answering)\w*")
_HEDGE = r"(?:\s+(?:really|actually|currently|personally|directly|physically|ethically|in good conscience|in any way))*"
_TO = r"(?:\s+(?:to|with|in|on))?"
REFUSAL_PATTERNS: tuple[tuple[str, str], ...] = (
    # "I cannot provide ...", "I'm not able to help with ...", "I must decline to write ..."
    ("declines", rf"\b{_I}(?:\s+|(?=['’]))(?:(?:really|truly|simply|just|unfortunately|therefore|regretfully|still)\s+)?{_NEG}"
                 rf"{_HEDGE}(?:\s+(?:be able|able|allowed|permitted|going))?{_TO}{_HEDGE}\s+{_TASK}"),
    ("declines", r"\bI (?:do not|don(?:'|’)t|would not|wouldn(?:'|’)t) (?:feel|be) comfortable\b"),
    # "I'm sorry, but I can't ...", "I apologize, but ... not able"
    ("apology", rf"\b(?:I(?:'|’)m|I am|I(?:'|’)m really|I am really|I(?:'|’)m very)\s+(?:so\s+)?(?:sorry|afraid)\b[^.!?\n]{{0,100}}?"
                rf"\b(?:{_NEG}|not (?:able|possible|appropriate|something I)|unable|beyond my|outside (?:of )?my|"
                rf"(?:don(?:'|’)t|do not) have (?:the ability|access|any (?:information|data|knowledge))|not equipped)"),
    ("apology", r"\bI (?:sincerely |truly )?apologi[sz]e\b[^.!?\n]{0,100}?\b(?:can(?:'|’)?t|cannot|unable|not able|"
                r"won(?:'|’)t|will not|not (?:possible|appropriate)|beyond my|(?:don(?:'|’)t|do not) have (?:the ability|access)|"
                r"(?:don(?:'|’)t|do not) feel comfortable|(?:don(?:'|’)t|do not) have (?:any )?(?:information|data|knowledge))"),
    # "This request goes against my ...", "It is not appropriate for me to ..."
    ("policy", r"\b(?:against|violates?|contrary to) (?:my|our|OpenAI(?:'|’)s|the) (?:programming|guidelines|policies|policy|"
               r"principles|ethical guidelines|content policy|usage policies|values)\b"),
    ("policy", r"\b(?:not|in)appropriate for me to\b|\bI (?:do not|don(?:'|’)t) think (?:it(?:'|’)s|it is|it would be) "
               r"appropriate\b|\bnot (?:ethical|something I(?:'|’)m able|within my (?:capabilities|abilities|programming)) "
               r"(?:for me )?to\b"),
    ("policy", r"\b(?:beyond|outside(?: of)?) (?:my|the scope of my) (?:capabilities|abilities|programming|scope|expertise)\b"),
    ("policy", r"\bI(?:'|’)m not (?:able|equipped|designed|programmed) (?:to|for)\b|\bI am not (?:equipped|designed|programmed) (?:to|for)\b"),
    ("policy", r"\bI (?:do not|don(?:'|’)t) have the (?:ability|capability|capacity|means|access) to\b"),
    ("policy", r"\bI (?:do not|don(?:'|’)t) have (?:access to|any way to|real-time|the ability)\b"),
    ("policy", r"\b(?:this|that|the) (?:task|request|instruction|question) (?:is|requires|involves)[^.!?\n]{0,60}?"
               r"\b(?:cannot|can(?:'|’)t|unable to|not able to|not possible (?:for me|to complete))\b"),
    ("policy", r"\b(?:this|that) (?:task|instruction) (?:cannot|can(?:'|’)t) be (?:completed|done|answered|performed)\b"),
)
# A refusal is what a response opens with (or its first sentences): a story whose character says
# "I can't help you" is not one. Disclosures and policy talk count anywhere.
REFUSAL_WINDOW = 400

# --- self-disclosure ------------------------------------------------------------------------------
_AI = (r"(?:an? )?(?:(?:large |advanced |AI |artificial intelligence |text-based |neural |helpful )*"
       r"(?:language model|LLM|AI(?: model| language model| assistant| system| chatbot| program)?|"
       r"artificial intelligence|virtual assistant|chatbot|computer program|machine learning model|"
       r"digital assistant|text-based AI|bot))")
DISCLOSURE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("as_an_ai", rf"\b[Aa]s {_AI}\b"),
    ("as_an_ai", r"\b[Aa]s (?:a|an|your) (?:[\w-]+,? (?:and )?){1,4}?(?:AI|language model|artificial intelligence)\b"),
    ("i_am_an_ai", rf"\b(?:I(?:'|’)m|I am|I(?:'|’)m just|I am just|I(?:'|’)m only|I am only|I(?:'|’)m merely|I am merely|"
                   rf"being|since I(?:'|’)m|since I am|because I(?:'|’)m|because I am) {_AI}\b"),
    ("no_personal", r"\bI (?:do not|don(?:'|’)t|cannot|can(?:'|’)t) (?:have|hold|form|experience|possess|feel)"
                    r" (?:any )?(?:personal|my own|real|human|physical) (?:opinions?|feelings?|experiences?|beliefs?|"
                    r"preferences?|emotions?|views?|tastes?|bodys?|body|form|presence|life)\b"),
    ("no_personal", r"\bI (?:do not|don(?:'|’)t) have (?:emotions|feelings|opinions|a body|a physical (?:body|form)|"
                    r"(?:a|any) (?:strong |personal )?(?:opinion|preference|stance|view)s?\b|"
                    r"personal (?:opinions|feelings|experiences|beliefs|preferences))\b"),
    ("no_personal", r"\b(?:AI|language model|assistant)s? like (?:me|myself)\b|\bI(?:'|’)m (?:designed|programmed|trained) to\b"
                    r"|\bI am (?:designed|programmed|trained) to\b|\bmy (?:programming|circuits|creators|developers|training)\b"),
    ("training", r"\b(?:my|the) (?:training data|knowledge cut-?off|last (?:knowledge )?update|training cut-?off)\b"),
    ("made_by", r"\b(?:I was|I(?:'|’)ve been|I have been) (?:trained|created|developed|built|designed|made|programmed) "
                r"by (?:OpenAI|Anthropic|Google|Meta|Mistral|Alibaba|a team)\b"),
    ("made_by", r"\b(?:I(?:'|’)m|I am) (?:ChatGPT|GPT-?\d|Claude|Bard|Gemini|LLaMA|Llama|Qwen|an? OpenAI)\b"),
)

_COMPILED_REFUSAL = [(k, re.compile(p, re.IGNORECASE)) for k, p in REFUSAL_PATTERNS]
_COMPILED_DISCLOSURE = [(k, re.compile(p)) for k, p in DISCLOSURE_PATTERNS]
_OPEN_REFUSAL = {"declines", "apology"}  # only within the opening window
# A line that is a speaker's turn ("Agent: I'm sorry, we can't...") or a phrase inside quotes is a
# character speaking in a story or dialogue the model wrote, not the model declining.
_SPEAKER = re.compile(r"^\s*(?:[-*•>]\s*)?[A-Z][\w .'’]{0,24}:\s")
# "such as an AI", "known as a chatbot": the AI is a topic, not the speaker.
_TOPIC_AS = re.compile(r"\b(?:such|known|same|well|used|serve|serves|act|acts|function|functions|work|works|"
                       r"referred to|defined|described|classified|regarded|seen|viewed)\s*$", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:I|I'm|I’m|me|my|myself)\b")


def _spoken(text: str, start: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    before = text[line_start:start]
    return bool(_SPEAKER.match(before + " ")) or (before.count('"') + before.count("“") - before.count("”")) % 2 == 1


def _self_reference(text: str, m: re.Match[str], kind: str) -> bool:
    if kind != "as_an_ai" or m.group(0).startswith("As"):  # "As an AI, ..." opening a sentence speaks of itself
        return True
    if _TOPIC_AS.search(text[max(0, m.start() - 20):m.start()]):
        return False
    return bool(_FIRST_PERSON.search(text, m.end(), m.end() + 80))


def _first(compiled: list[tuple[str, re.Pattern[str]]], text: str, window: set[str], disclosure: bool) -> tuple[str, int] | None:
    best: tuple[int, str] | None = None
    for kind, rx in compiled:
        for m in (rx.finditer(text, 0, REFUSAL_WINDOW) if kind in window else rx.finditer(text)):
            if best is not None and m.start() >= best[0]:
                break
            if (_self_reference(text, m, kind) if disclosure else not _spoken(text, m.start())):
                best = (m.start(), m.group(0))
                break
    return None if best is None else (best[1], best[0])


def refusal(response: str) -> tuple[str, int] | None:
    """(matched phrase, offset in the response) of the first refusal phrase, or None."""
    return _first(_COMPILED_REFUSAL, response, _OPEN_REFUSAL, False)


def disclosure(response: str) -> tuple[str, int] | None:
    """(matched phrase, offset) of the first self-disclosure ("As an AI language model"), or None."""
    return _first(_COMPILED_DISCLOSURE, response, set(), True)


# --- empty and echo -------------------------------------------------------------------------------
_WORD = re.compile(r"\w+")


def empty(response: str) -> bool:
    """No letter or digit at all (whitespace, zero-width characters, lone punctuation)."""
    return _WORD.search(response) is None


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def echo(response: str, prompt: str, instruction: str) -> tuple[float | None, int]:
    """(similarity, new words): how many of the response's words the prompt does not hold and, when
    that is none, how closely the response repeats the instruction (difflib's ratio on normalized
    words, in [0, 1]; None when the response adds words, which is an answer however similar:
    "Brazil is a country in South America" for "Name a country in South America")."""
    words = _norm(response)
    seen = set(_norm(prompt).split())
    new = sum(w not in seen for w in set(words.split()))
    if new or not words:
        return None, new
    # Not the input: "correct this sentence" or "format this data" rightly returns much of it.
    other = _norm(instruction)
    return (round(SequenceMatcher(None, words, other, autojunk=False).ratio(), 4) if other else 0.0), 0


# --- truncation -----------------------------------------------------------------------------------
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)
_PAIRS = {"(": ")", "[": "]", "{": "}"}
_ENUM = re.compile(r"(?m)^\s*(?:[a-z]|\d{1,3}|[ivx]{1,4})\)")  # "a)", "2)": enumerations close without opening
# Words a sentence does not end on ("with", "to" and "for" may: "someone to talk to").
_DANGLING = re.compile(r"(?:,|;|\b(?:and|or|but|the|a|an|of|that|which|is|are|was|were|because|than|such|these|"
                       r"their|its|our|your|my|if|when|while|whose|including|between))$", re.IGNORECASE)
_END = re.compile(r"[.!?…:;\"'”’)\]}*`>|]$|[\U0001F300-\U0001FAFF\u2600-\u27BF]$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s*")
_BARE_MARKER = re.compile(r"^\s*(?:[-*•]|\d{1,3}[.)])\s*$")
_PLAIN_WORD = re.compile(r"^[a-z]{2,}[,;]?$")
_INVISIBLE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")


def truncation(response: str, finish_reason: str | None) -> str | None:
    """Why the response looks cut off, or None: finish_reason 'length' (or 'max_tokens'), an unclosed
    code fence or bracket, a list that ends in a bare marker, or prose that stops mid-sentence."""
    if finish_reason in ("length", "max_tokens", "max_length"):
        return "finish_reason_length"
    if len(_FENCE.findall(response)) % 2:
        return "unclosed_code_fence"
    prose = re.sub(r"```.*?```", " ", response, flags=re.DOTALL)
    prose = _ENUM.sub(" ", prose)
    for opener, closer in _PAIRS.items():
        if prose.count(opener) > prose.count(closer) and prose.rstrip().rfind(opener) > prose.rfind(closer):
            # the last opener is never closed: "(see below" at the end, not a smiley earlier on
            return "unclosed_bracket"
    lines = [ln for ln in _INVISIBLE.sub("", response).rstrip().split("\n") if ln.strip()]
    if not lines:
        return None
    last = lines[-1].rstrip()
    if _BARE_MARKER.match(last) and len(lines) > 1:
        return "cut_list"
    body = _LIST_ITEM.sub("", last)
    words = body.split()
    if _END.search(last) or not words:
        return None
    if not _PLAIN_WORD.match(words[-1]):  # a hashtag, link, number, name or formula ends a text bare
        return None
    if _DANGLING.search(last) and len(words) >= 6:
        return "cut_list" if _LIST_ITEM.match(last) and len(lines) > 1 else "unfinished_sentence"
    # A long last line of punctuated prose that stops without punctuation. Short last lines (titles,
    # labels, poem lines, one-word answers) legitimately end bare.
    if len(words) >= 15 and len(_SENTENCE_END.findall(response)) >= 1 and not _LIST_ITEM.match(last):
        return "unfinished_sentence"
    return None


# --- degeneration ---------------------------------------------------------------------------------
_LONG_WORD = re.compile(r"[^\W\d_]{3,}")


def degeneration(response: str, n: int = 3) -> tuple[float, float, int]:
    """(fraction of repeated word n-grams, fraction of non-empty lines repeating an earlier line,
    length in words of the longest loop at the end: a span repeated back to back at least 3 times)."""
    words = [w for w in response.lower().split() if _LONG_WORD.search(w)]
    grams = list(zip(*(words[i:] for i in range(n)), strict=False))
    rep = 1.0 - len(set(grams)) / len(grams) if len(grams) >= 20 else 0.0
    # Lines with a word of 3+ letters: rows of a truth table or a grid repeat by nature.
    lines = [ln.strip().lower() for ln in response.split("\n") if _LONG_WORD.search(ln)]
    line_rep = 1.0 - len(set(lines)) / len(lines) if len(lines) >= 4 else 0.0
    return round(rep, 4), round(line_rep, 4), _tail_loop(words)


def _tail_loop(words: list[str], max_period: int = 60, min_repeats: int = 3) -> int:
    """Words covered by the longest back-to-back repetition at the end of the text (looping)."""
    tail = words[-max_period * min_repeats * 2:]
    best = 0
    for p in range(1, min(max_period, len(tail) // min_repeats) + 1):
        k = len(tail) - 1
        while k - p >= 0 and tail[k] == tail[k - p]:
            k -= 1
        covered = len(tail) - 1 - k + p  # words in the periodic suffix
        if covered >= p * min_repeats and covered >= 6:
            best = max(best, covered)
    return best
