"""accelsim.validation turns the first pydantic error into one exact one-line message.

The models here are small stand-ins for hwconfig, workload and technique models, so each test
shows one rule of the translator on its own.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

import pytest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from accelsim.config.models import CrossFieldError
from accelsim.errors import ConfigError, WorkloadError
from accelsim.validation import Wording, validate


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Buffer(Closed):
    size: int = Field(gt=0, description="bytes of storage")
    ports: Literal[1, 2] = 2


class Systolic(Closed):
    kind: Literal["systolic"]
    rows: int = Field(gt=0, description="PE rows")
    dataflow: Optional[Literal["os", "ws", "is"]] = None


class OuterProduct(Closed):
    kind: Literal["outer_product", "scnn"]
    banks: int = Field(gt=0, description="accumulator banks per PE")


ArrayParams = Annotated[Union[Systolic, OuterProduct], Field(discriminator="kind")]


class Chip(Closed):
    name: str = Field(description="chip name")
    array: ArrayParams
    buffers: dict[str, Buffer] = Field(default_factory=dict)
    layers: list[Annotated[Union[Systolic, OuterProduct],
                           Field(discriminator="kind", title="layer")]] = []
    clocks: list[float] = []

    @model_validator(mode="after")
    def _one_port_buffers_are_small(self) -> Chip:
        for name, buffer in self.buffers.items():
            if buffer.ports == 1 and buffer.size > 1024:
                raise CrossFieldError(f"buffers.{name}.size", "at most 1024 bytes with one port",
                                      got=buffer.size)
        return self


class AntLikeParams(Closed):
    granularity: Literal["element", "chunk", "row"] = "chunk"
    comparator_energy_pj: float = Field(0.12, ge=0)
    latency_cycles: int = 1
    enabled: bool = True
    label: Optional[str] = None
    offsets: list[int] = Field(default_factory=lambda: [0, 1])
    scale: float


CHIP = {"name": "c", "array": {"kind": "systolic", "rows": 4}}


def message(data: dict, model: type[BaseModel] = Chip, **options) -> str:
    """The message validating ``data`` against ``model`` gives, without the source."""
    with pytest.raises(ConfigError) as caught:
        validate(model, data, "chip.yaml", **options)
    return str(caught.value).removeprefix("chip.yaml: ")


def test_valid_data_gives_the_model():
    """Data that validates comes back as the model instance."""
    chip = validate(Chip, CHIP, "chip.yaml")
    assert isinstance(chip.array, Systolic) and chip.array.rows == 4


def test_nested_model_path():
    """A key inside a nested model is reported by its dotted path, with the bound and value."""
    data = {**CHIP, "buffers": {"ifmap": {"size": 0}}}
    assert message(data) == "buffers.ifmap.size: expected a number greater than 0, got 0"


def test_list_index_in_brackets():
    """A list item is written with its index in brackets."""
    data = {**CHIP, "clocks": [1.0, "fast"]}
    assert message(data) == "clocks[1]: expected a valid number, got 'fast'"


def test_dict_of_models_extra_key_lists_the_owning_models_keys():
    """An unknown key inside a dict of models lists the keys of that model."""
    data = {**CHIP, "buffers": {"ifmap": {"size": 8, "prots": 1}}}
    assert message(data) == ("buffers.ifmap.prots: expected a known key "
                             "(valid choices: ports, size)")


def test_discriminated_union_tag_is_dropped_from_the_path():
    """pydantic's location ('array', 'systolic', 'rows') becomes array.rows, and the member
    model chosen by the tag gives the field description."""
    data = {**CHIP, "array": {"kind": "systolic"}}
    assert message(data) == "array.rows: expected this required key (PE rows)"


def test_discriminated_union_member_with_several_tags():
    """A member whose Literal allows several tags is found under each of them."""
    data = {**CHIP, "array": {"kind": "scnn", "banks": 0}}
    assert message(data) == "array.banks: expected a number greater than 0, got 0"


def test_unknown_tag_lists_the_valid_tags():
    """A bad tag names the discriminator key, the bad tag and every tag of every member."""
    data = {**CHIP, "array": {"kind": "mesh", "rows": 4}}
    assert message(data) == ("array.kind: expected a known kind, got 'mesh' "
                             "(valid choices: outer_product, scnn, systolic)")


def test_missing_tag_is_a_required_key():
    """A union member without its tag says the discriminator key is required."""
    data = {**CHIP, "array": {"rows": 4}}
    assert message(data) == ("array.kind: expected this required key (the kind) "
                             "(valid choices: outer_product, scnn, systolic)")


def test_titled_union_in_a_list():
    """A tagged union's title words the tag ('a known layer kind'); the index stays."""
    data = {**CHIP, "layers": [{"kind": "systolic", "rows": 1}, {"kind": "relu"}]}
    assert message(data) == ("layers[1].kind: expected a known layer kind, got 'relu' "
                             "(valid choices: outer_product, scnn, systolic)")


def test_optional_literal_lists_its_choices():
    """A Literal behind Optional still gives its values as choices."""
    data = {**CHIP, "array": {"kind": "systolic", "rows": 4, "dataflow": "xs"}}
    assert message(data) == ("array.dataflow: expected one of the valid choices, got 'xs' "
                             "(valid choices: is, os, ws)")


def test_missing_key_with_description():
    """A missing key is named with its field description."""
    assert message({"array": CHIP["array"]}) == "name: expected this required key (chip name)"


def test_unknown_key_preferred_over_the_missing_one_it_replaces():
    """A misspelt key is reported rather than the required key it was meant to be."""
    data = {**CHIP, "array": {"kind": "systolic", "rowz": 4}}
    assert message(data) == ("array.rowz: expected a known key "
                             "(valid choices: dataflow, kind, rows)")


def test_extra_key_with_key_types_lists_types_and_defaults():
    """With key_types each valid key shows its type and default; key_prefix places the model."""
    data = {"scale": 1.0, "granularty": "row"}
    assert message(data, AntLikeParams, key_prefix="techniques[0].ant", key_types=True) == (
        "techniques[0].ant.granularty: expected a known key (valid choices: "
        "comparator_energy_pj (float, default 0.12), enabled (bool, default True), "
        "granularity ('element' | 'chunk' | 'row', default 'chunk'), "
        "label (str | None, default None), latency_cycles (int, default 1), "
        "offsets (list[int], default [0, 1]), scale (float, required))")


def test_cross_field_error_keeps_its_key_path():
    """A CrossFieldError raised by a model validator reports its own key path and value."""
    data = {**CHIP, "buffers": {"ifmap": {"size": 4096, "ports": 1}}}
    assert message(data) == ("buffers.ifmap.size: expected at most 1024 bytes with one port, "
                             "got 4096")


def test_type_error_omits_a_mapping_input():
    """A value of the wrong type is named readably; a mapping found is not quoted back."""
    assert message({**CHIP, "name": {"first": "c"}}) == "name: expected a valid string"
    assert message({**CHIP, "array": 3}) == "array: expected a mapping of keys to values, got 3"


def test_given_error_class_and_wording():
    """The error is of the class asked for; Wording changes index and bound spellings."""
    data = {**CHIP, "layers": [{"kind": "systolic", "rows": 0}]}
    with pytest.raises(WorkloadError) as caught:
        validate(Chip, data, "net.yaml", WorkloadError,
                 wording=Wording(index=".{}", bounded="a value that is"))
    assert str(caught.value) == ("net.yaml: layers.0.rows: expected a value that is greater "
                                 "than 0, got 0")


class Energies(Closed):
    pj: dict[Literal["fp32", "fp16"], Annotated[float, Field(ge=0)]] = {}


def test_bad_mapping_key_is_reported_at_the_key_with_its_choices():
    """pydantic's ('pj', 'fp64', '[key]') is the key pj.fp64, checked against the mapping's
    Literal key type, whose values are the choices."""
    assert message({"pj": {"fp64": 1.0}}, Energies) == (
        "pj.fp64: expected one of the valid choices, got 'fp64' (valid choices: fp16, fp32)")


def test_float_bound_reads_as_written():
    """A float field's bound 0 is 0, not 0.0."""
    assert message({"pj": {"fp32": -1.0}}, Energies) == (
        "pj.fp32: expected a number greater than or equal to 0, got -1.0")


def test_non_finite_float_refused_in_a_model_that_allows_it():
    """A model with pydantic's default (NaN and infinity allowed, as a technique's Params)
    still gets one error per non-finite float, at its key path."""
    assert message({"scale": float("inf")}, AntLikeParams, key_prefix="ant") == (
        "ant.scale: expected a finite number, got inf")
    assert message({**CHIP, "clocks": [1.0, float("nan")]}) == (
        "clocks[1]: expected a finite number, got nan")


def test_nan_against_a_bound_is_a_finite_number():
    """NaN fails every comparison: the bound's message says the number must be finite."""
    data = {"scale": 1.0, "comparator_energy_pj": float("nan")}
    assert message(data, AntLikeParams) == ("comparator_energy_pj: expected a finite number "
                                            "greater than or equal to 0, got nan")


def test_key_with_a_line_break_keeps_the_message_on_one_line():
    """A key from the input with a control character is shown escaped."""
    data = {**CHIP, "buffers": {"a\nb": {"size": 0}}}
    assert message(data) == "buffers.a\\nb.size: expected a number greater than 0, got 0"
