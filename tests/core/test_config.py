"""Settings: embedded defaults, and errors that name the key."""

from __future__ import annotations

import pytest

from alpha01.config import Settings
from alpha01.errors import ConfigError


def test_no_file_means_the_embedded_defaults(tmp_path):
    s = Settings.load(tmp_path / "missing.toml")
    assert s.llm.offline is True
    assert s.engine.aggregate_window_s == 2.0


def test_round_trip(tmp_path):
    s = Settings().with_overrides(shop={"name": "好果子"}, hours={"open": "08:30"})
    s.save(tmp_path / "s.toml")
    again = Settings.load(tmp_path / "s.toml")
    assert again == s


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[engine]\naggregate_window_s = 'soon'\n", "engine.aggregate_window_s"),
        ("[engin]\nx = 1\n", "engin"),
        ("[shop]\nnmae = 'x'\n", "shop.nmae"),
        ("[hours]\nopen = '25:00'\n", "hours.open"),
        ("[hours]\ndays = [0, 8]\n", "hours.days"),
        ("[llm]\npolicy = 'sometimes'\n", "llm.policy"),
        ("[pacing]\nper_minute = -3\n", "pacing.per_minute"),
        ("[llm]\noffline = 'yes'\n", "llm.offline"),
        ("[pacing]\nper_day = 1.5\n", "pacing.per_day"),
        ("shop = 3\n", "shop"),
    ],
)
def test_a_bad_value_names_its_key(tmp_path, text, named):
    p = tmp_path / "settings.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        Settings.load(p)


def test_broken_toml_and_bad_encoding_are_clear(tmp_path):
    p = tmp_path / "settings.toml"
    p.write_text("[shop\nname = ", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.load(p)
    p.write_bytes("[shop]\nname = '果'\n".encode("gbk"))
    with pytest.raises(ConfigError, match="UTF-8"):
        Settings.load(p)


def test_a_bom_is_accepted(tmp_path):
    p = tmp_path / "settings.toml"
    p.write_bytes("\ufeff[shop]\nname = '果然鲜'\n".encode())
    assert Settings.load(p).shop.name == "果然鲜"
