"""Every public function of musicgan_lib that takes or returns a Tensor names the tensor shapes in its docstring.

The rule (as magenta/ddsp's core.py writes them): the docstring holds at least one bracket group
with a capital letter or a digit, e.g. "audio [B, T] -> spectrogram [B, F, frames]" or
"images [B, 3, 32, 32] in [-1, 1]". Public means top-level functions and the methods of public
classes whose names do not start with "_" (plus `forward`); "mentions Tensor" means the
annotations of the arguments or the return value contain the word.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "musicgan_lib"
SHAPE = re.compile(r"\[[^\]]*[A-Z0-9][^\]]*\]")


def _public_functions(tree: ast.Module) -> list[ast.FunctionDef]:
    found = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            found.append(node)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            found += [
                n
                for n in node.body
                if isinstance(n, ast.FunctionDef) and (not n.name.startswith("_") or n.name == "forward")
            ]
    return found


def missing_shapes(source: str, filename: str = "<string>") -> list[str]:
    """`file:line name` of each public function mentioning Tensor whose docstring gives no shape."""
    missing = []
    for fn in _public_functions(ast.parse(source)):
        signature = ast.unparse(fn.args) + (ast.unparse(fn.returns) if fn.returns else "")
        if "Tensor" in signature and not SHAPE.search(ast.get_docstring(fn) or ""):
            missing.append(f"{filename}:{fn.lineno} {fn.name}")
    return missing


def test_the_scanner_flags_a_function_without_shapes_and_passes_one_with_them():
    source = textwrap.dedent(
        '''
        from torch import Tensor

        def no_doc(x: Tensor) -> Tensor:
            return x

        def no_shape(x: Tensor) -> Tensor:
            """Doubles x, an [..., n] tensor."""
            return 2 * x

        def with_shape(audio: Tensor) -> Tensor:
            """audio [B, T] -> spectrogram [B, F, frames]."""
            return audio

        def digits_count(images) -> Tensor:
            """images [B, 3, 32, 32] in [-1, 1]."""
            return images

        def no_tensor(x: int) -> int:
            return x

        def _private(x: Tensor) -> Tensor:
            return x

        class Net:
            def forward(self, x: Tensor) -> Tensor:
                return x

            def _helper(self, x: Tensor) -> Tensor:
                return x

            def score(self, x: Tensor) -> Tensor:
                """x [N, D] -> scores [N]."""
                return x

        class _Hidden:
            def forward(self, x: Tensor) -> Tensor:
                return x
        '''
    )
    flagged = [entry.split(" ", 1)[1] for entry in missing_shapes(source)]
    assert flagged == ["no_doc", "no_shape", "forward"]


def test_every_public_tensor_function_gives_its_shapes():
    files = sorted(PACKAGE.rglob("*.py"))
    assert files, f"no Python files under {PACKAGE}"
    missing = []
    for path in files:
        missing += missing_shapes(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert not missing, (
        f"{len(missing)} public function(s) take or return a Tensor but their docstring gives no shape "
        "(write e.g. 'audio [B, T] -> spectrogram [B, F, frames]'):\n" + "\n".join(missing)
    )
