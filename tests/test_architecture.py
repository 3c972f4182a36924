"""The layer rule of docs/ARCHITECTURE.md: no import goes up a layer, and no recipe imports another."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "musicgan_lib"

# first component under musicgan_lib/ -> layer (docs/ARCHITECTURE.md)
LAYERS = {
    "__init__": 0, "checks": 0, "checkpoint": 0, "device": 0, "profiles": 0, "paths": 0, "weights": 0, "distributed": 0,
    "data": 1, "audio": 1, "imaging": 1, "songs": 1,
    "models": 2, "kernels": 2, "losses": 2, "losses_audio": 2,
    "train": 3, "growing": 3,
    "metrics": 4,
    "record": 5, "exercises": 5, "viz": 5, "toyplots": 5, "spriteplots": 5, "noteplots": 5, "songplots": 5,
    "recipes": 6,
    "course": 7, "cli": 7, "sweep": 7, "train_cli": 7,
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def imports_of(path: Path) -> set[str]:
    """Every musicgan_lib module `path` imports (relative imports resolved; `from . import x` -> pkg.x)."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.startswith("musicgan_lib"):
                target = node.module.split(".")[1:]
            else:
                continue
            if node.module is None:  # `from . import a, b`: the names are modules
                found |= {".".join([*target, alias.name]) for alias in node.names}
            else:
                found.add(".".join(target))
                folder = PACKAGE.joinpath(*target)
                if folder.is_dir():  # `from musicgan_lib.recipes import wgan`: wgan is a module too
                    found |= {".".join([*target, a.name]) for a in node.names if (folder / f"{a.name}.py").exists()}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".", 1)[1] for a in node.names if a.name.startswith("musicgan_lib.")}
    return {f for f in found if f}


def all_edges() -> list[tuple[str, str]]:
    return sorted((module_name(p), t) for p in PACKAGE.rglob("*.py") for t in imports_of(p))


def test_every_module_has_a_layer():
    tops = {module_name(p).split(".")[0] for p in PACKAGE.rglob("*.py")}
    assert tops <= set(LAYERS), f"add {sorted(tops - set(LAYERS))} to LAYERS here and to docs/ARCHITECTURE.md"


def test_the_import_scanner_sees_relative_and_absolute_imports(tmp_path):
    assert ("recipes.latent_gan", "train") in all_edges()
    assert ("recipes.autoencoder", "data.note_sets") in all_edges()
    assert ("record", "paths") in all_edges()


def test_the_scanner_sees_a_module_imported_from_its_package(tmp_path, monkeypatch):
    fake = tmp_path / "musicgan_lib"
    (fake / "recipes").mkdir(parents=True)
    (fake / "recipes" / "a.py").write_text("from musicgan_lib.recipes import b\n")
    (fake / "recipes" / "b.py").write_text("")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    assert imports_of(fake / "recipes" / "a.py") == {"recipes", "recipes.b"}


def test_no_import_goes_up_a_layer():
    upward = [(a, b) for a, b in all_edges() if LAYERS[b.split(".")[0]] > LAYERS[a.split(".")[0]]]
    assert not upward, "imports from a higher layer (see docs/ARCHITECTURE.md): " + ", ".join(
        f"{a} -> {b}" for a, b in upward
    )


def test_no_recipe_imports_another_recipe():
    found = {
        (a, b)
        for a, b in all_edges()
        if a.startswith("recipes.") and b.startswith("recipes.") and b != "recipes" and a != b
    }
    assert not found, (
        f"a recipe imports another recipe: {sorted(found)}; move the shared part down a layer, or have the "
        "notebook hand the other chapter's public function in (as chapters 3 and 4 do for their baselines)"
    )


@pytest.mark.parametrize("layer_doc", [Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"])
def test_the_architecture_page_names_every_layer_folder(layer_doc):
    text = layer_doc.read_text()
    for top in LAYERS:
        if top == "__init__":
            continue
        name = f"`{top}/`" if (PACKAGE / top).is_dir() else f"`{top}.py`"
        assert name in text, f"docs/ARCHITECTURE.md does not place {name}"
