"""GPU models: published figures and MIG geometry."""

import pytest

from aitc.domain.gpu import GPU_MODELS, MIG_COMPUTE_SLICES, MIG_MEMORY_SLOTS, gpu_model
from aitc.errors import CatalogError


def test_every_gpu_model_has_the_six_mig_profiles_with_nvidia_placements():
    for gpu in GPU_MODELS.values():
        shapes = [(p.compute_slices, p.size, p.placements) for p in gpu.mig_profiles]
        assert shapes == [
            (1, 1, (0, 1, 2, 3, 4, 5, 6)),
            (1, 2, (0, 2, 4, 6)),
            (2, 2, (0, 2, 4)),
            (3, 4, (0, 4)),
            (4, 4, (0,)),
            (7, 8, (0,)),
        ]


def test_mig_placements_stay_inside_the_memory_slots():
    for gpu in GPU_MODELS.values():
        for p in gpu.mig_profiles:
            for start in p.placements:
                assert max(p.slots(start)) < MIG_MEMORY_SLOTS
            assert p.compute_slices <= MIG_COMPUTE_SLICES


@pytest.mark.parametrize(
    ("model", "names"),
    [
        ("A100-40GB", ["1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]),
        ("H100-80GB", ["1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"]),
        ("H200-141GB", ["1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"]),
        ("B200-180GB", ["1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"]),
    ],
)
def test_mig_profile_names_follow_nvidia(model, names):
    assert [p.name for p in gpu_model(model).mig_profiles] == names


def test_fp8_exists_from_hopper_and_fp4_only_on_blackwell():
    assert "fp8" not in gpu_model("A100-80GB").tflops
    assert gpu_model("H100-80GB").tflops["fp8"] == 1979.0
    assert "fp4" not in gpu_model("H200-141GB").tflops
    assert gpu_model("B200-180GB").tflops["fp4"] == 9000.0


def test_unknown_gpu_and_profile_name_the_known_ones():
    with pytest.raises(CatalogError, match="known: A100-40GB"):
        gpu_model("V100")
    with pytest.raises(CatalogError, match="3g.40gb"):
        gpu_model("H100-80GB").mig("3g.71gb")
