"""The man pages and the --help texts describe the same options and commands.

Every long option that `gslbd --help` and `gslbctl --help` print, and every
gslbctl command, has an entry in the man page; every option the man page
documents is accepted by the program. A new option without documentation, or
documentation of an option that does not exist, fails here.
"""

import os
import re
import subprocess

import gslbtest


def _help(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _man(name):
    with open(os.path.join(gslbtest.SRCDIR, "man", name + ".in"), encoding="utf-8") as f:
        # groff escapes: "\-" is a hyphen.
        return f.read().replace("\\-", "-")


def _long_options(text):
    return set(re.findall(r"(?<![\w-])--([a-z][a-z-]+)", text))


def _short_options(help_text):
    return set(re.findall(r"^\s+(-[a-zA-Z]),", help_text, re.M))


def _check_options(binary, man_name):
    """Every option of `binary --help` is in the man page; returns both."""
    help_text = _help(binary)
    man = _man(man_name)
    missing = sorted(o for o in _long_options(help_text) if "--" + o not in man)
    assert not missing, man_name + " lacks: " + ", ".join("--" + o for o in missing)
    for short in _short_options(help_text):
        assert re.search(r"\.BR " + re.escape(short) + r"\b", man), man_name + " lacks " + short
    return help_text, man


def test_gslbd_man_documents_every_option():
    _check_options(gslbtest.GSLBD, "gslbd.8")


def test_gslbd_man_options_exist():
    help_text = _help(gslbtest.GSLBD)
    extra = sorted(o for o in _long_options(_man("gslbd.8")) if "--" + o not in help_text)
    assert not extra, "gslbd(8) documents unknown options: " + ", ".join(extra)


def _ctl_commands(help_text):
    block = help_text.split("Commands:", 1)[1].split("Targets:", 1)[0]
    return set(re.findall(r"^  ([a-z][a-z-]+)", block, re.M))


def test_gslbctl_man_documents_every_option_and_command():
    help_text, man = _check_options(gslbtest.GSLBCTL, "gslbctl.8")
    commands = _ctl_commands(help_text)
    assert {"status", "drain", "what-if", "reload"} <= commands
    for cmd in sorted(commands):
        assert re.search(r"^\.B " + re.escape(cmd) + r"\b", man, re.M), \
            "gslbctl(8) lacks the command " + cmd


def test_gslbd_man_explain_reads_state_dir():
    """--explain starts from the state saved in state_dir, as a restart would:
    the man page must not claim that every pool counts as up."""
    man = _man("gslbd.8")
    options = man.split(".SH OPTIONS", 1)[1]
    section = options.split(".B --explain", 1)[1].split(".TP", 1)[0]
    assert "every" not in section.split("state_dir")[0], section
    assert "state_dir" in section
