#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""docs_check [BUILD] - do the code, the man page and the sample agree?

For every daemon (milters/NAME/main.c), one TAP test that checks:

  - every parameter the code knows is documented in
    milters/NAME/postern-NAME.conf.5, i.e. appears there in bold as itself
    in a .B/.BR/.RB/.BI/.IB macro (the form of a .TP item or of a list of
    names), and is listed in the sample milters/NAME/NAME.conf as
    "name = value" or "#name = value";
  - every parameter the .5 documents as an item (a .TP tag whose bold word
    is a name, not an attribute such as "min_version=") and every one the
    sample lists exists in the code;
  - the parameters every daemon shares (socket ... on_error) are among
    them, so each daemon's pages document them too;
  - both man pages format without warnings (man --warnings, as lintian
    runs it).

And one test for every header in common/ and milters/ (synopsis_names):
every function and field its SYNOPSIS names (`name(` or `.name =`), and
every pn_ name its module comment mentions, exists as an identifier in the
C code (comments and strings left out), so the synopsis cannot document
a field or function that was renamed or never written.

What the code knows comes from the daemon itself: `postern-NAME config`
on a file that sets only socket prints every parameter, the shared ones
included. BUILD (default $POSTERN_BUILD, else build/) holds bin/postern-NAME.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))

from tap import test, main  # noqa: E402

BUILD = (sys.argv[1] if len(sys.argv) > 1 else None) or \
    os.environ.get("POSTERN_BUILD") or os.path.join(TOP, "build")
BUILD = os.path.abspath(BUILD)

SHARED = ["socket", "socket_mode", "socket_owner", "user", "pidfile", "log_level",
          "milter_timeout", "listen_backlog", "body_memory_limit", "tmp_dir", "on_error"]

# postern-web serves HTTP, not the milter protocol: no socket, none of SHARED
NOT_MILTERS = ("web",)

NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
# roff arguments: "quoted" (with "" for a quote) or a run of non-blanks
ARG = re.compile(r'"((?:[^"]|"")*)"?|(\S+)')
# which arguments of an alternating-font macro are bold
BOLD_ARGS = {".B": "all", ".BR": 0, ".BI": 0, ".RB": 1, ".IB": 1}


def daemons():
    d = os.path.join(TOP, "milters")
    return sorted(n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n, "main.c")))


def code_params(name, tmp):
    """Every parameter postern-NAME knows, from its config command."""
    binary = os.path.join(BUILD, "bin", "postern-" + name)
    if not os.access(binary, os.X_OK):
        raise AssertionError(f"{binary} is not built")
    conf = os.path.join(tmp, name + ".conf")
    with open(conf, "w") as f:
        f.write("" if name in NOT_MILTERS else f"socket = unix:{tmp}/{name}.sock\n")
    r = subprocess.run([binary, "-c", conf, "config"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"postern-{name} config exited {r.returncode}: {r.stderr}")
    names = set()
    for line in r.stdout.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        names.add(line.split("=", 1)[0].strip())
    return names


def plain(s):
    """Text of roff input without font changes and escapes."""
    s = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", s)
    return s.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def unescape(s):
    """A roff argument as a word: plain text, no edge punctuation."""
    return plain(s).strip().rstrip(",.;:)").strip()


def macro_args(line):
    """(macro, its arguments) of a font macro line, else (None, [])."""
    parts = line.split(None, 1)
    if not parts or parts[0] not in BOLD_ARGS or len(parts) < 2:
        return None, []
    return parts[0], [m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2)
                      for m in ARG.finditer(parts[1])]


def bold_args(line):
    """The bold arguments of a font macro line, as words."""
    macro, args = macro_args(line)
    if macro is None:
        return []
    which = BOLD_ARGS[macro]
    return [unescape(a) for i, a in enumerate(args) if which == "all" or i % 2 == which]


def rendered(line):
    """The text a tag line shows: .B joins its arguments with spaces, the
    alternating-font macros without; other lines are text."""
    macro, args = macro_args(line)
    if macro is None:
        return "" if line.startswith(".") else plain(line)
    return (" " if macro == ".B" else "").join(plain(a) for a in args)


# A parameter item's tag: one name, or names joined by "," / "and" / "or",
# then its default: "name (default...)" or "name = value". Tags such as
# "object", "hold / release" (formats) or "min_version=" (policy
# attributes) are not parameters.
ITEM = re.compile(r"\s*([a-z][a-z0-9_]*(?:(?:\s*,\s*|\s+(?:and|or)\s+)[a-z][a-z0-9_]*)*)"
                  r"(?:\s*\(|\s+=)")


def page_params(path):
    """(names in bold in a font macro anywhere, names of .TP parameter items)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    bold, items = set(), set()
    for i, line in enumerate(lines):
        bold.update(w for w in bold_args(line) if NAME.match(w))
        if line.startswith(".TP") and i + 1 < len(lines):
            m = ITEM.match(rendered(lines[i + 1]))
            if m:
                items.update(w for w in re.findall(r"[a-z][a-z0-9_]*", m.group(1))
                             if w not in ("and", "or"))
    return bold, items


def sample_params(path):
    """Names the sample sets or shows commented out ("#name = value")."""
    names = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"#?([a-z][a-z0-9_]*)\s*=", line)
            if m:
                names.add(m.group(1))
    return names


def man_warnings(path):
    """What man reports while formatting path (lintian's command)."""
    if shutil.which("man") is None:
        return None
    env = dict(os.environ, LC_ALL="C.UTF-8", MANROFFSEQ="", MANWIDTH="80")
    r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path],
                       capture_output=True, text=True, env=env, timeout=60)
    out = [l for l in r.stderr.splitlines() if l.strip()]
    if r.returncode != 0 and not out:
        out = [f"man exited {r.returncode}"]
    return out


def check(name):
    src = os.path.join(TOP, "milters", name)
    page = os.path.join(src, f"postern-{name}.conf.5")
    page8 = os.path.join(src, f"postern-{name}.8")
    sample = os.path.join(src, f"{name}.conf")
    problems = []
    tmp = tempfile.mkdtemp(prefix="postern-docs-")
    try:
        code = code_params(name, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for p in () if name in NOT_MILTERS else SHARED:
        if p not in code:
            problems.append(f"the code lacks the shared parameter {p}")
    if os.path.isfile(page):
        bold, items = page_params(page)
        for p in sorted(code - bold):
            problems.append(f"{p}: not documented in postern-{name}.conf.5")
        for p in sorted(items - code):
            problems.append(f"{p}: documented in postern-{name}.conf.5 but not a parameter")
    else:
        problems.append(f"missing milters/{name}/postern-{name}.conf.5")
    if os.path.isfile(sample):
        listed = sample_params(sample)
        for p in sorted(code - listed):
            problems.append(f"{p}: not listed in {name}.conf")
        for p in sorted(listed - code):
            problems.append(f"{p}: listed in {name}.conf but not a parameter")
    else:
        problems.append(f"missing milters/{name}/{name}.conf")
    for man in (page, page8):
        if not os.path.isfile(man):
            if man == page8:
                problems.append(f"missing milters/{name}/postern-{name}.8")
            continue
        w = man_warnings(man)
        if w is None:
            print(f"# man is not installed: {os.path.basename(man)} not formatted")
        else:
            problems.extend(f"{os.path.basename(man)}: {l}" for l in w)
    if problems:
        raise AssertionError(f"postern-{name}: {len(problems)} problem(s):\n  "
                             + "\n  ".join(problems))
    print(f"# postern-{name}: {len(code)} parameters agree")


def register(name):
    def fn():
        check(name)
    fn.__name__ = f"postern-{name} parameters: code, postern-{name}.conf(5), {name}.conf"
    test(fn)


def synopsis_names():
    """Every name a header's SYNOPSIS or module comment promises exists."""
    ident = re.compile(r"[A-Za-z_]\w*")
    code, headers = set(), []
    for top in ("common", "milters"):
        for root, _, files in os.walk(os.path.join(TOP, top)):
            for f in sorted(x for x in files if x.endswith((".c", ".h"))):
                with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fp:
                    text = fp.read()
                bare = re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)
                code.update(ident.findall(re.sub(r'"(?:\\.|[^"\\\n])*"', "", bare)))
                if f.endswith(".h"):
                    headers.append((os.path.relpath(os.path.join(root, f), TOP), text))
    missing = []
    for path, text in headers:
        m = re.match(r"\s*/\*(.*?)\*/", text, re.S)
        if not m:
            continue
        section, names = None, set(re.findall(r"\b(pn_\w*[a-z0-9]|PN_\w*[A-Z0-9])\b", m.group(1)))
        for line in m.group(1).split("\n"):
            body = re.sub(r"^\s*\*", "", line)
            if re.fullmatch(r" ?[A-Z][A-Z ]+", body):   # a section heading
                section = body.strip()
            elif section == "SYNOPSIS" and not body.strip().startswith("#"):
                body = re.sub(r'"(?:\\.|[^"\\])*"', '""', body)
                names.update(n for n in re.findall(r"\b([A-Za-z_]\w*)\s*\(", body)
                             if n not in ("sizeof", "if", "while", "for", "return"))
                names.update(re.findall(r"(?:\.|->)([A-Za-z_]\w*)\s*=", body))
        missing += [f"{path}: {n}" for n in sorted(names - code)]
    if missing:
        raise AssertionError("named in a header comment, absent from the code:\n  "
                             + "\n  ".join(missing))


for _name in daemons():
    register(_name)
test(synopsis_names)


# ---------------------------------------------------------------------------
# One story: the documents an administrator reads (README, README.postfix,
# README.Debian, the Sendmail notes, the snippets, the man pages, the
# sample configurations) must not contradict one another. What is compared
# is what they show as examples or state as advice:
#   - "socket_owner = X", "socket_mode = X": one value everywhere;
#   - each milter's default_action ("{ unix:.../NAME.sock,
#     default_action=X }", a man page's "milter_default_action = X" for its
#     own daemon, Sendmail's F=T / F=R / no F=): one value per milter;
#   - the order of the milters in every smtpd_milters/non_smtpd_milters
#     value and every INPUT_MAIL_FILTER list, and every "put NAME last" /
#     "NAME comes last": one order;
#   - a main.cf milter names a socket as chrooted Postfix sees it
#     (unix:/postern/NAME.sock) or outside Postfix's spool
#     (unix:/run/postern/NAME.sock), never unix:/var/spool/postfix/...
#     in an example, since Debian's smtpd runs chrooted there.
STORY_DOCS = ["README.md", "packaging/postfix/README", "packaging/postfix/main.cf.snippet",
              "packaging/debian/README.Debian", "packaging/sendmail/README",
              "packaging/sendmail/postern.mc-snippet"]
MILTERS = r"(tls|sort|archive|audit)"


def story_docs():
    docs = [os.path.join(TOP, d) for d in STORY_DOCS]
    for name in daemons():
        for f in (f"postern-{name}.8", f"postern-{name}.conf.5", f"{name}.conf"):
            path = os.path.join(TOP, "milters", name, f)
            if os.path.isfile(path):
                docs.append(path)
    return docs


def doc_lines(path):
    """(line number, text) of a document, man pages as the text they show."""
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read().splitlines()
    out = []
    for i, line in enumerate(raw, 1):
        if re.search(r"\.[58]\Z", path):
            if line.startswith((".I ", ".IR ", ".RI ")):
                line = plain(line.split(None, 1)[1].replace('"', ""))
            elif line.startswith(".") and not line.startswith(tuple(BOLD_ARGS)):
                continue
            line = rendered(line) if line.startswith(".") else plain(line)
        out.append((i, line))
    return out


def logical_values(lines, param):
    """(line, value) of each "param = value" with its continuation lines."""
    found = []
    for k, (i, line) in enumerate(lines):
        m = re.search(r"(?<![a-z_])" + param + r"\s*=\s*(.*)", line)
        if not m:
            continue
        value = m.group(1)
        for _, more in lines[k + 1:]:
            if not more[:1].isspace() or not more.strip() or "=" in more.split("{")[0]:
                break
            value += " " + more.strip()
        found.append((i, value))
    return found


def page_daemon(path):
    m = re.search(r"postern-(\w+)\.8\Z", path)
    return m.group(1) if m else None


def story_facts():
    """{(what, key): {value: [places]}} and the order claims, from every document."""
    facts, orders, lasts = {}, [], []

    def note(what, key, value, where):
        facts.setdefault((what, key), {}).setdefault(value, []).append(where)

    for path in story_docs():
        rel = os.path.relpath(path, TOP)
        lines = doc_lines(path)
        own = page_daemon(path)
        text = " ".join(t for _, t in lines)
        for i, line in lines:
            where = f"{rel}:{i}"
            for param in ("socket_owner", "socket_mode"):
                for m in re.finditer(r"(?<![a-z_])" + param + r"[ \t]*=[ \t]*([^\s)]+)",
                                     line):
                    note(param, "", m.group(1), where)
            for m in re.finditer(r"unix:[^\s,}]*?" + MILTERS + r"\.sock\s*,\s*"
                                 r"default_action\s*=\s*(\w+)", line):
                note("default_action", m.group(1), m.group(2), where)
            m = re.search(r"milter_default_action\s*=\s*(\w+)", line)
            if m and own and not line.lstrip().startswith("#"):
                note("default_action", own, m.group(1), where)
            for m in re.finditer(r"INPUT_MAIL_FILTER\(`[^']*', *`S=[^,']*?" + MILTERS
                                 + r"\.sock([^']*)'", line):
                flag = re.search(r"F=([A-Z])", m.group(2))
                action = {"T": "tempfail", "R": "reject"}.get(flag.group(1), "?") \
                    if flag else "accept"
                note("default_action", m.group(1), action, where + " (Sendmail)")
        # "socket_owner ... e.g. user:group" in a parameter's description
        for m in re.finditer(r"socket_owner\b[^.]{0,200}?e\.g\.,? `?([\w-]+:[\w-]+)", text):
            note("socket_owner", "", m.group(1), rel + " (e.g.)")
        for param in ("smtpd_milters", "non_smtpd_milters"):
            for i, value in logical_values(lines, param):
                seq = re.findall(MILTERS + r"\.sock", value) or \
                    re.findall(r"\b" + MILTERS + r"\b", value.split("#")[0])
                orders.append((f"{rel}:{i}", seq))
                if "unix:/var/spool/postfix/" in value:
                    note("chroot path in main.cf", param, "unix:/var/spool/postfix/...",
                         f"{rel}:{i}")
        seq = [m.group(1) for _, l in lines
               for m in re.finditer(r"INPUT_MAIL_FILTER\(`postern-" + MILTERS, l)]
        if len(seq) > 1:
            orders.append((f"{rel} (INPUT_MAIL_FILTER)", seq))
        for m in re.finditer(r"(?:[Pp]ut|[Aa]ttach|[Aa]dd) (postern-(\w+)|it) last", text):
            lasts.append((rel, m.group(2) or own))
        for m in re.finditer(r"(?:postern-)?\b" + MILTERS + r"(?: comes)? last\b", text):
            lasts.append((rel, m.group(1)))
    return facts, orders, lasts


def story_problems():
    facts, orders, lasts = story_facts()
    problems = []
    for (what, key), values in sorted(facts.items()):
        if what.startswith("chroot"):
            for v, places in values.items():
                problems.append(f"{key} names {v} (Postfix's chroot path is /postern/...): "
                                + ", ".join(places))
            continue
        if len(values) > 1:
            problems.append(f"{what}{' of ' + key if key else ''}: "
                            + "; ".join(f"{v} at {', '.join(p)}" for v, p in values.items()))
    before = {}
    for where, seq in orders:
        for a in range(len(seq)):
            for b in range(a + 1, len(seq)):
                if seq[a] != seq[b]:
                    before.setdefault((seq[a], seq[b]), []).append(where)
    for (a, b), places in sorted(before.items()):
        if (b, a) in before and a < b:
            problems.append(f"order: {a} before {b} at {', '.join(places)}; {b} before {a} at "
                            f"{', '.join(before[(b, a)])}")
    for rel, name in lasts:
        for (a, b), places in before.items():
            if a == name:
                problems.append(f"{rel} says {name} goes last; {b} follows it at "
                                f"{', '.join(places)}")
    named_last = {name for _, name in lasts}
    if len(named_last) > 1:
        problems.append("different milters said to go last: " + "; ".join(
            f"{n} in {', '.join(r for r, x in lasts if x == n)}" for n in sorted(named_last)))
    return problems


@test
def one_story_socket_owner_default_action_and_order_agree_across_documents():
    problems = story_problems()
    if problems:
        raise AssertionError(f"{len(problems)} contradiction(s):\n  " + "\n  ".join(problems))

if __name__ == "__main__":
    main()
