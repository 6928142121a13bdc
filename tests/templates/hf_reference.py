"""Hugging Face's chat-template renderer, rebuilt on python3-jinja2 exactly as
transformers' apply_chat_template sets it up (utils/chat_template_utils.py):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the
loopcontrols extension, raise_exception and strftime_now as globals, and a
tojson filter that does not escape non-ASCII. The template sees messages,
tools, documents, add_generation_prompt and the special tokens, plus any
extra keyword arguments."""
import datetime
import json

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


class Generation(Extension):
    """{% generation %}...{% endgeneration %}: renders its body (HF's
    AssistantTracker does that when not tracking assistant masks)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def make_env(now):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.fromtimestamp(now).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


_ENVS = {}
_TEMPLATES = {}


def render(source, messages, tools, bos_token, eos_token, add_generation_prompt, kwargs, now):
    """Returns ("text", output) or ("error", message, raised_by_template)."""
    env = _ENVS.setdefault(now, make_env(now))
    try:
        key = (now, source)
        if key not in _TEMPLATES:
            _TEMPLATES[key] = env.from_string(source)
        template = _TEMPLATES[key]
        context = dict(kwargs or {})
        context.update(messages=messages, tools=tools, documents=None,
                       add_generation_prompt=add_generation_prompt,
                       bos_token=bos_token, eos_token=eos_token)
        return ("text", template.render(**context))
    except jinja2.exceptions.TemplateError as error:
        raised = type(error) is jinja2.exceptions.TemplateError
        return ("error", str(error), raised)
    except Exception as error:  # TypeError, ValueError... from the template's own code
        return ("error", "%s: %s" % (type(error).__name__, error), False)
