"""Packaging. The checkout keeps migrations/ and sandbox_data/ at the top level (the project's layout);
a built wheel carries them inside the package, as app/_bundled/migrations and app/_bundled/sandbox_data,
where app.core.config finds them (a checkout or an editable install reads the top-level folders)."""

from pathlib import Path

from setuptools import find_namespace_packages, setup

BUNDLED = {"app._bundled.migrations": "migrations", "app._bundled.sandbox_data": "sandbox_data"}


def folders(package: str, folder: str) -> list[str]:
    """The package for `folder` and one for each of its subfolders (each carries its own files)."""
    found = [package]
    for path in sorted(Path(folder).rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_dir() and "__pycache__" not in parts and all(p.isidentifier() for p in parts):
            found.append(".".join((package, *parts)))
    return found


bundled = [name for package, folder in BUNDLED.items() for name in folders(package, folder)]
setup(
    packages=find_namespace_packages(
        include=["app", "app.*", "agents", "agents.*"], exclude=["*__pycache__*"]
    )
    + bundled,
    package_dir=BUNDLED,
    package_data=dict.fromkeys(
        ["app.web.static", "app.web.templates", "app.evaluation.templates", "app.llm.policies", *bundled],
        ["*"],
    ),
    exclude_package_data={"": ["*.pyc"]},
)
