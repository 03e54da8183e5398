"""``vconsole completion bash|zsh``: shell completion generated from the argument parser.

The parser is walked (its subcommands, each one's options and choices), so a
new command or option completes without anyone editing a list here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

SHELLS = ("bash", "zsh")
# Options whose value is a path complete file names; others complete nothing.
PATH_METAVARS = frozenset({"PATH", "FILE", "DIR"})
PATH_OPTIONS = frozenset({"--socket", "--fleet", "--prefix", "-o", "--output"})


@dataclass(frozen=True)
class OptionSpec:
    """One option: its spellings, whether it takes a value, and what to offer for that value."""

    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    is_path: bool = False


@dataclass(frozen=True)
class CommandSpec:
    """One command (the top level is the one named ""): options, subcommands, positional choices."""

    name: str
    help: str
    options: tuple[OptionSpec, ...]
    positional_choices: tuple[str, ...] = ()
    commands: tuple[CommandSpec, ...] = field(default=())


def command_spec(parser: argparse.ArgumentParser, name: str = "", help_text: str = "") -> CommandSpec:
    """The completion model of ``parser``, walked recursively through its subcommands."""
    options: list[OptionSpec] = []
    positional: list[str] = []
    commands: list[CommandSpec] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for sub_name, sub in action.choices.items():
                commands.append(command_spec(sub, sub_name, helps.get(sub_name, "")))
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            choices = tuple(str(c) for c in action.choices) if action.choices else ()
            metavar = action.metavar if isinstance(action.metavar, str) else ""
            is_path = metavar in PATH_METAVARS or any(f in PATH_OPTIONS for f in action.option_strings)
            options.append(
                OptionSpec(tuple(action.option_strings), action.help or "", action.nargs != 0, choices, is_path)
            )
        elif action.choices:
            positional += [str(c) for c in action.choices]
    return CommandSpec(name, help_text, tuple(options), tuple(positional), tuple(commands))


def _words(items: list[str] | tuple[str, ...]) -> str:
    # Every word comes from the parser: option names, command names, choices (no spaces or quotes).
    return " ".join(items)


def bash_script(spec: CommandSpec, prog: str = "vconsole") -> str:
    """A bash completion script (``source <(vconsole completion bash)``)."""
    fn = f"_{prog}_complete"
    every = [spec, *spec.commands]
    valued = sorted({f for c in every for o in c.options if o.takes_value for f in o.flags})
    lines = [
        f"# bash completion for {prog}, generated from its argument parser by `{prog} completion bash`.",
        f"{fn}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local cmd="" i word',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        word="${COMP_WORDS[i]}"',
        '        case "$word" in',
        f"            {'|'.join(valued) or '--'}) ((i++)) ;;  # an option's value is not the command",
        "            -*) ;;",
        '            *) cmd="$word"; break ;;',
        "        esac",
        "    done",
        '    case "$prev" in',
    ]
    seen: set[str] = set()
    for command in every:
        for option in command.options:
            if not option.takes_value or option.flags[0] in seen:
                continue
            seen.add(option.flags[0])
            if option.choices:
                action = f'COMPREPLY=($(compgen -W "{_words(option.choices)}" -- "$cur")); return'
            elif option.is_path:
                action = 'COMPREPLY=($(compgen -f -- "$cur")); return'
            else:
                action = "return"
            lines.append(f"        {'|'.join(option.flags)}) {action} ;;")
    lines += ["    esac", '    local words', '    case "$cmd" in']
    top_options = [f for o in spec.options for f in o.flags]
    lines.append(f'        "") words="{_words([c.name for c in spec.commands] + top_options)}" ;;')
    for command in spec.commands:
        flags = [f for o in command.options for f in o.flags]
        words = list(command.positional_choices) + flags
        lines.append(f'        {command.name}) words="{_words(words)}" ;;')
    lines += [
        "    esac",
        '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
        "}",
        f"complete -o default -F {fn} {prog}",
        "",
    ]
    return "\n".join(lines)


def _zsh_quote(text: str) -> str:
    """``text`` single-quoted for zsh."""
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_text(text: str) -> str:
    """A description inside an _arguments spec: no brackets or colons, which end its fields."""
    return text.replace("[", "(").replace("]", ")").replace(":", ",")


def _zsh_option(option: OptionSpec) -> str:
    """One _arguments spec for ``option``, spellings that exclude each other grouped."""
    if option.choices:
        value = f":value:({' '.join(option.choices)})"
    elif option.is_path:
        value = ":path:_files"
    elif option.takes_value:
        value = ":value: "
    else:
        value = ""
    described = f"[{_zsh_text(option.help)}]{value}"
    if len(option.flags) == 1:
        return _zsh_quote(option.flags[0] + described)
    flags = " ".join(option.flags)
    return _zsh_quote(f"({flags})") + "{" + ",".join(option.flags) + "}" + _zsh_quote(described)


def _zsh_arguments(command: CommandSpec, indent: str, extra: list[str]) -> list[str]:
    specs = [_zsh_option(o) for o in command.options] + extra
    lines = [f"{indent}_arguments -C \\"]
    lines += [f"{indent}    {spec} \\" for spec in specs]
    lines.append(f"{indent}    && ret=0")
    return lines


def zsh_script(spec: CommandSpec, prog: str = "vconsole") -> str:
    """A zsh completion function (``#compdef``; or ``source <(vconsole completion zsh)`` after compinit)."""
    fn = f"_{prog}"
    lines = [
        f"#compdef {prog}",
        f"# zsh completion for {prog}, generated from its argument parser by `{prog} completion zsh`.",
        f"{fn}() {{",
        '    local curcontext="$curcontext" state line ret=1',
        "    local -a commands",
        "    commands=(",
    ]
    lines += [f"        {_zsh_quote(c.name + ':' + c.help)}" for c in spec.commands]
    lines.append("    )")
    lines += _zsh_arguments(spec, "    ", ["'1: :->command'", "'*:: :->args'"])
    lines += [
        "    case $state in",
        f"        command) _describe -t commands {_zsh_quote(prog + ' command')} commands && ret=0 ;;",
        "        args)",
        "            case $words[1] in",
    ]
    for command in spec.commands:
        if command.positional_choices:
            positional = [_zsh_quote(f"1:value:({' '.join(command.positional_choices)})")]
        else:
            positional = ["'*: :_default'"]
        lines.append(f"                {command.name})")
        lines += _zsh_arguments(command, "                    ", positional)
        lines.append("                    ;;")
    lines += [
        "            esac",
        "            ;;",
        "    esac",
        "    return ret",
        "}",
        # Autoloaded from $fpath the file's body is the function's; sourced, it registers it.
        'if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then',
        f'    {fn} "$@"',
        "else",
        f"    compdef {fn} {prog}",
        "fi",
        "",
    ]
    return "\n".join(lines)


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script of ``parser`` for ``shell`` (one of SHELLS)."""
    spec = command_spec(parser)
    return bash_script(spec, parser.prog) if shell == "bash" else zsh_script(spec, parser.prog)
