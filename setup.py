"""Packaging beside pyproject.toml, for the one thing it cannot say: templates/ lives at the top
level of the repository and ships inside the wheel as the package `nnspec.templates`. Every
package under nnspec/ is found automatically (pyproject's `packages.find`)."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["nnspec", "nnspec.*"]), "nnspec.templates"],
    package_dir={"nnspec.templates": "templates"},
    package_data={"nnspec.templates": ["*.jinja"]},
)
