"""The exception hierarchy: every error is a LatentBridgeError and the matching builtin."""

from __future__ import annotations

import pytest

from latentbridge import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InputError, ValueError),
        (errors.LatentShapeError, ValueError),
        (errors.ImageShapeError, ValueError),
        (errors.UnknownNameError, KeyError),
        (errors.RegistryConflictError, ValueError),
        (errors.PluginError, RuntimeError),
        (errors.MissingDependencyError, ImportError),
        (errors.UnsupportedOptimizerError, ValueError),
        (errors.WeightsError, FileNotFoundError),
    ],
)
def test_hierarchy(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, errors.LatentBridgeError)
    assert issubclass(cls, builtin)


def test_unknown_name_message_is_not_quoted() -> None:
    assert str(errors.UnknownNameError("plain message")) == "plain message"


def test_missing_extra_names_the_install_command() -> None:
    err = errors.missing_extra("pymoo", "pymoo")
    assert "pip install 'latentbridge[pymoo]'" in str(err)
