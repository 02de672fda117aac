"""A Sphinx directive, ``gridlab-cli``: every ``gridlab`` command's ``--help``, read from the parser
the command itself builds (``gridlab.cli.build_parser``), so the reference cannot drift from it."""

from __future__ import annotations

import argparse

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(prefix, parser)]
    for action in parser._actions:  # argparse keeps its subcommands here and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, f"{prefix} {name}")
    return found


class GridlabCli(SphinxDirective):
    """One section per command: its usage and options, as ``gridlab COMMAND --help`` prints them."""

    def run(self) -> list[nodes.Node]:
        from gridlab.cli import build_parser

        out: list[nodes.Node] = []
        for name, parser in _commands(build_parser(), "gridlab")[1:]:
            section = nodes.section(ids=[nodes.make_id(name)])
            section += nodes.title(text=name)
            parser.prog = name
            text = parser.format_help()
            block = nodes.literal_block(text, text)
            block["language"] = "text"  # help text, not code: no highlighting
            section += block
            out.append(section)
        return out


def setup(app):
    app.add_directive("gridlab-cli", GridlabCli)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
