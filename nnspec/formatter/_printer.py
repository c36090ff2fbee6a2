"""The printer: lays a document out in lines of at most 88 characters, as ruff's printer does.

Each group is printed flat if its content fits up to the next line break (or, by measure, on
all of its lines), else broken; conditional content follows the mode of the group it names;
best-fitting variants are tried in order; content to parenthesize to fit gets parentheses and
its own lines only when it does not fit flat but fits that way.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnspec.formatter._document import (
    ALL_LINES,
    ALL_LINES_OVERFLOW,
    EXPANDED,
    FIRST_LINE,
    FLAT,
    HARD,
    SOFT,
    SOFT_OR_SPACE,
    Element,
    Tag,
    propagate_expands,
)

LINE_WIDTH = 88
INDENT_WIDTH = 4


@dataclass(frozen=True)
class _Context:
    """How the elements under a tag print: indentation, flat or expanded, how far to measure."""

    indent: int = 0
    mode: str = EXPANDED
    measure: str = FIRST_LINE

    def with_mode(self, mode: str) -> _Context:
        return _Context(self.indent, mode, self.measure)

    def with_measure(self, measure: str) -> _Context:
        return _Context(self.indent, self.mode, measure)

    def indented(self) -> _Context:
        return _Context(self.indent + 1, self.mode, self.measure)


class _Queue:
    """A stack of (elements, next index) frames; the top frame is read first."""

    def __init__(self, frames: list[list] | None = None):
        self.frames = frames if frames is not None else []

    def push(self, elements: list[Element]) -> None:
        if elements:
            self.frames.append([elements, 0])

    def pop(self) -> Element | None:
        while self.frames:
            frame = self.frames[-1]
            if frame[1] < len(frame[0]):
                frame[1] += 1
                return frame[0][frame[1] - 1]
            self.frames.pop()
        return None

    def top(self) -> Element | None:
        for elements, index in reversed(self.frames):
            if index < len(elements):
                return elements[index]
        return None

    def skip_content(self, kind: str) -> None:
        """Skip to just after the end tag of `kind` that closes the current content."""
        depth = 1
        while (el := self.pop()) is not None:
            if el[0] == "start" and el[1].kind == kind:
                depth += 1
            elif el[0] == "end" and el[1] == kind:
                depth -= 1
                if depth == 0:
                    return

    def copy(self) -> _Queue:
        return _Queue([[elements, index] for elements, index in self.frames])


class Printer:
    """Prints one document (a statement) starting at an indentation level, as ruff does."""

    def __init__(self, indent: int = 0):
        self.indent = indent
        self.out: list[str] = []
        self.line_width = 0
        self.pending_indent: int | None = indent
        self.measured_group_fits = False
        self.group_modes: dict[int, str] = {}

    # printing

    def print(self, items: list[Element]) -> str:
        propagate_expands(items)
        queue = _Queue()
        queue.push(items)
        stack: list[tuple[str, _Context]] = [("root", _Context(self.indent))]
        while (el := queue.pop()) is not None:
            self._element(el, queue, stack)
        return "".join(self.out)

    def _text(self, s: str) -> None:
        if self.pending_indent is not None:
            self.out.append(" " * (INDENT_WIDTH * self.pending_indent))
            self.line_width += INDENT_WIDTH * self.pending_indent
            self.pending_indent = None
        self.out.append(s)
        self.line_width += len(s)

    def _newline(self, args: _Context) -> None:
        if self.line_width > 0:
            self.out.append("\n")
        self.line_width = 0
        self.measured_group_fits = False
        self.pending_indent = args.indent

    def _element(self, el: Element, queue: _Queue, stack: list) -> None:
        args = stack[-1][1]
        kind = el[0]
        if kind == "text":
            self._text(el[1])
        elif kind == "line":
            if args.mode == FLAT and el[1] in (SOFT, SOFT_OR_SPACE):
                if el[1] == SOFT_OR_SPACE:
                    self._text(" ")
            else:
                self._newline(args)
        elif kind == "best":
            self._best_fitting(el[1], el[2], queue, stack)
        elif kind == "start":
            self._start(el[1], args, queue, stack)
        elif kind == "end":
            self._end(el[1], args, queue, stack)

    def _start(self, tag: Tag, args: _Context, queue: _Queue, stack: list) -> None:
        k = tag.kind
        if k == "group":
            mode = EXPANDED if tag.expand else self._flat_group_mode(k, tag.id, args, queue, stack)
            if tag.id is not None:
                self.group_modes[tag.id] = mode
            stack.append((k, args.with_mode(mode)))
        elif k == "cond_group":
            expected = args.mode if tag.cond_id is None else self.group_modes[tag.cond_id]
            if expected == tag.cond_mode:
                mode = EXPANDED if tag.expand else self._flat_group_mode(k, None, args, queue,
                                                                         stack)
                stack.append((k, args.with_mode(mode)))
            else:
                stack.append((k, args))
        elif k == "cond_content":
            mode = args.mode if tag.cond_id is None else self.group_modes[tag.cond_id]
            if mode == tag.cond_mode:
                stack.append((k, args))
            else:
                queue.skip_content(k)
        elif k == "indent":
            stack.append((k, args.indented()))
        elif k == "indent_if_breaks":
            mode = self.group_modes[tag.cond_id]
            stack.append((k, args.indented() if mode == EXPANDED else args))
        elif k == "first_line_fits":
            mode = args.mode if tag.cond_id is None else self.group_modes[tag.cond_id]
            if tag.cond_mode is None or mode == tag.cond_mode:
                self.measured_group_fits = False
            stack.append((k, args))
        elif k == "parenthesize_to_fit":  # ruff's best_fit_parenthesize
            fits_flat = self._flat_group_mode(k, tag.id, args, queue, stack) == FLAT
            if fits_flat:
                mode = FLAT
            else:
                if tag.id is not None:
                    self.group_modes[tag.id] = EXPANDED
                stack.append((k, args.with_measure(ALL_LINES)))
                queue.push([("text", "("), ("start", Tag("indent")), ("line", HARD)])
                fits_parenthesized = self._fits(queue, stack)
                queue.frames.pop()
                stack.pop()
                mode = EXPANDED if fits_parenthesized else FLAT
            if tag.id is not None:
                self.group_modes[tag.id] = mode
            if mode == EXPANDED:
                queue.push([("text", "("), ("start", Tag("indent")), ("line", HARD)])
            stack.append((k, args.with_mode(mode)))
        elif k == "entry":
            stack.append((k, args))
        else:
            raise ValueError(f"unknown tag {k}")

    def _end(self, kind: str, args: _Context, queue: _Queue, stack: list) -> None:
        if kind == "parenthesize_to_fit" and args.mode == EXPANDED:
            popped = stack.pop()
            assert popped[0] == "indent", popped
            queue.push([("line", HARD), ("text", ")")])
        popped = stack.pop()
        assert popped[0] == kind, (popped, kind)

    def _flat_group_mode(self, kind: str, gid: int | None, args: _Context, queue: _Queue,
                         stack: list) -> str:
        if args.mode == FLAT and self.measured_group_fits:
            return FLAT
        self.measured_group_fits = True
        if gid is not None:
            self.group_modes[gid] = FLAT
        stack.append((kind, args.with_mode(FLAT)))
        fits = self._fits(queue, stack)
        stack.pop()
        return FLAT if fits else EXPANDED

    def _best_fitting(self, variants: list[list[Element]], mode: str, queue: _Queue,
                      stack: list) -> None:
        args = stack[-1][1]
        if args.mode == FLAT and self.measured_group_fits:
            self._enter(variants[0], args, queue, stack)
            return
        self.measured_group_fits = True
        for variant in variants[:-1]:
            queue.push(variant + [("end", "entry")])
            stack.append(("entry", args.with_mode(FLAT).with_measure(mode)))
            fits = self._fits(queue, stack)
            stack.pop()
            queue.frames.pop()
            if fits:
                self._enter(variant, args.with_mode(FLAT), queue, stack)
                return
        self._enter(variants[-1], args.with_mode(EXPANDED), queue, stack)

    @staticmethod
    def _enter(variant: list[Element], args: _Context, queue: _Queue, stack: list) -> None:
        """Print `variant` next, in `args`; its end tag pops the frame."""
        queue.push(variant + [("end", "entry")])
        stack.append(("entry", args))

    # measuring

    def _fits(self, queue: _Queue, stack: list) -> bool:
        return _Measurer(self, queue.copy(), list(stack)).fits()


class _Measurer:
    """Does the queue's content fit, up to the first line break (or all lines, by mode)?"""

    def __init__(self, printer: Printer, queue: _Queue, stack: list):
        self.p, self.queue, self.stack = printer, queue, stack
        self.line_width = printer.line_width
        self.pending_indent = printer.pending_indent
        # Inside `first_line_fits`, lines may overflow, but not the line it starts on (ruff
        # measures the text before the first line break, such as an opening bracket, strictly).
        self.overflow_line = False

    def fits(self) -> bool:
        while (el := self.queue.pop()) is not None:
            result = self._element(el)
            if result is not None:
                return result
        return True

    def _text(self, s: str, args: _Context) -> bool | None:
        if self.pending_indent is not None:
            self.line_width += INDENT_WIDTH * self.pending_indent
            self.pending_indent = None
        self.line_width += len(s)
        if self.line_width > LINE_WIDTH and not (args.measure == ALL_LINES_OVERFLOW
                                                  and self.overflow_line):
            return False
        return None

    def _element(self, el: Element) -> bool | None:
        args = self.stack[-1][1]
        kind = el[0]
        if kind == "text":
            return self._text(el[1], args)
        if kind == "line":
            if args.mode == FLAT:
                if el[1] == SOFT_OR_SPACE:
                    return self._text(" ", args)
                if el[1] == HARD:
                    return True
                return None
            if args.measure == FIRST_LINE:
                return True
            self.line_width = 0
            self.pending_indent = args.indent
            self.overflow_line = args.measure == ALL_LINES_OVERFLOW
            return None
        if kind == "best":
            variants, mode = el[1], el[2]
            if args.mode == FLAT:
                variant, entry_args = variants[0], args.with_measure(mode)
            else:
                variant, entry_args = variants[-1], args
            self.stack.append(("entry", entry_args))
            self.queue.push(variant + [("end", "entry")])
            return None
        if kind == "start":
            return self._start(el[1], args)
        # end tags
        tag_kind = el[1]
        if tag_kind == "parenthesize_to_fit" and args.mode == EXPANDED and \
                self.stack[-1][0] == "indent":
            self.stack.pop()
            unindented = self.stack.pop()[1]
            self.line_width = 0
            self.pending_indent = unindented.indent
            return self._text(")", unindented)
        popped = self.stack.pop()
        assert popped[0] == tag_kind, (popped, tag_kind)
        return None

    def _start(self, tag: Tag, args: _Context) -> bool | None:
        k = tag.kind
        modes = self.p.group_modes
        if k == "group":
            mode = EXPANDED if tag.expand else args.mode
            self.stack.append((k, args.with_mode(mode)))
            if tag.id is not None:
                modes[tag.id] = mode
        elif k == "cond_group":
            expected = args.mode if tag.cond_id is None else modes.get(tag.cond_id, args.mode)
            if expected == tag.cond_mode:
                mode = EXPANDED if tag.expand else args.mode
                self.stack.append((k, args.with_mode(mode)))
            else:
                self.stack.append((k, args))
        elif k == "cond_content":
            mode = args.mode if tag.cond_id is None else modes.get(tag.cond_id, args.mode)
            if mode == tag.cond_mode:
                self.stack.append((k, args))
            else:
                self.queue.skip_content(k)
        elif k == "indent":
            self.stack.append((k, args.indented()))
        elif k == "indent_if_breaks":
            mode = modes.get(tag.cond_id, args.mode)
            self.stack.append((k, args.indented() if mode == EXPANDED else args))
        elif k == "first_line_fits":
            if args.mode == EXPANDED:
                self.stack.append((k, args))
            else:
                mode = args.mode if tag.cond_id is None else modes.get(tag.cond_id, args.mode)
                if tag.cond_mode is None or mode == tag.cond_mode:
                    self.overflow_line = False
                    self.stack.append((k, args.with_measure(ALL_LINES_OVERFLOW)
                                       .with_mode(EXPANDED)))
                else:
                    if tag.expand:
                        return False
                    self.stack.append((k, args))
        elif k == "parenthesize_to_fit":
            if tag.id is not None:
                modes[tag.id] = args.mode
            self.stack.append((k, args))
        elif k == "entry":
            self.stack.append((k, args))
        else:
            raise ValueError(f"unknown tag {k}")
        return None


def render(items: list[Element], indent: int = 0) -> str:
    """Print a document starting at `indent` levels; the text has no trailing newline."""
    return Printer(indent).print(items)
