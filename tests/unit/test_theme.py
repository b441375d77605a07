"""One home per vocabulary: families come from conf/model, categories from taxonomy.yaml,
and a model's color is the same in every process (Python's hash() is salted per process)."""

import subprocess
import sys

from charsuite import zoo
from charsuite.config import choices
from charsuite.figures import theme
from helpers import REPO
from kernels_profile.taxonomy import load


def test_families_come_from_the_model_folder():
    assert sorted(zoo.families()) == sorted(choices("model"))
    assert zoo.families()["mamba2"] == "ssm" and zoo.families()["qwen2_5"] == "transformer"
    assert set(zoo.families().values()) <= set(theme.FAMILY_ORDER)


def test_every_taxonomy_category_has_its_own_color():
    colors = theme.category_colors()
    assert list(colors) == [c for c in load().categories if c != "other"] + ["other"]
    named = [v for k, v in colors.items() if k != "other"]
    assert len(set(named)) == len(named)


def test_colors_are_the_same_in_every_process():
    code = ("from charsuite.figures import theme; "
            "print(theme.model_color('hybrid', 'some_new_model'), theme.model_color('ssm', 'mamba2'))")
    runs = {subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                           env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout for seed in ("1", "2", "3")}
    assert len(runs) == 1 and runs.pop().split() == [theme.model_color("hybrid", "some_new_model"),
                                                      theme.model_color("ssm", "mamba2")]
    zoo_ssm = zoo.models_of("ssm")
    assert theme.model_color("ssm", zoo_ssm[0]) != theme.model_color("ssm", zoo_ssm[1])


def test_every_zoo_model_of_a_family_has_its_own_color():
    for family in theme.FAMILY_PALETTES:
        models = zoo.models_of(family)
        assert len({theme.model_color(family, m) for m in models}) == len(models), family
