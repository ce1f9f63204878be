"""Packaging. The checkout keeps migrations/ and sandbox_data/ at the top level (the project's layout);
a built wheel carries them inside the package, as app/_bundled/migrations and app/_bundled/sandbox_data,
where app.core.config finds them (a checkout or an editable install reads the top-level folders)."""

from setuptools import find_packages, setup

BUNDLED = {"app._bundled.migrations": "migrations", "app._bundled.sandbox_data": "sandbox_data"}

setup(
    packages=find_packages(include=["app", "app.*", "agents", "agents.*"]) + list(BUNDLED),
    package_dir=BUNDLED,
    package_data={
        "app": ["web/templates/*.html", "web/static/*", "llm/policies/*.yaml"],
        **{name: ["**/*"] for name in BUNDLED},
    },
    exclude_package_data={
        "": ["__pycache__/*", "*.pyc"],
        **{name: ["**/__pycache__/*", "**/*.pyc"] for name in BUNDLED},
    },
)
