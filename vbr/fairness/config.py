"""Thresholds of an adverse-impact audit: configuration with defaults an equality officer can defend."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class AuditConfig(BaseModel):
    """Every threshold the audit and its suggested outcome use. Unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ratio_threshold: float = Field(0.80, gt=0, le=1, description="impact ratio below which a group is flagged (four-fifths)")
    alpha: float = Field(0.05, gt=0, lt=1, description="significance level, after adjustment")
    adjustment: Literal["holm", "bh", "none"] = Field("holm", description="multiple-comparison adjustment across groups")
    test_family: Literal["comparison", "all_pairs"] = Field(
        "comparison", description="adjust over the G-1 tests against the comparison group (default), or over all "
                                  "pairs of groups, which allows for the comparison group being chosen as the highest "
                                  "rate (fewer false findings with many groups, less power)")
    test: Literal["fisher", "fisher_midp", "boschloo"] = Field(
        "fisher", description="one-sided test of a lower rate; boschloo is exact-unconditional and slow")
    rate_interval: Literal["wilson", "clopper_pearson"] = "wilson"
    confidence: float = Field(0.95, gt=0.5, lt=1)
    power: float = Field(0.80, gt=0.5, lt=1, description="power for the detectable impact ratio")
    min_group_size: int = Field(
        10, ge=1, description="groups with fewer applicants at a stage are 'too few to conclude' (and are not "
                              "chosen as the comparison group unless every group is this small)")
    low_declaration_rate: float = Field(0.80, ge=0, le=1, description="declaration rate below this is a review finding")
    review_significant_above_threshold: bool = Field(
        True, description="a ratio at or above the threshold whose difference is still statistically significant "
                          "is sent to review (UGESP 1607.4(D): smaller differences may matter)")
    ll144_min_share: float = Field(0.02, ge=0, lt=1, description="LL144: categories below this share of the sample "
                                                                 "are left out of impact ratios (counts still shown)")
    wres_band: tuple[float, float] = Field((0.80, 1.25), description="WRES relative-likelihood band read as no material difference")
    fairlearn_check_limit: int = Field(200_000, ge=0, description="cross-check rates with fairlearn MetricFrame up to this many rows")
    fairlearn_check: bool = Field(True, description="set False to skip the fairlearn cross-check entirely")

    @model_validator(mode="after")
    def _band(self) -> "AuditConfig":
        lo, hi = self.wres_band
        if not 0 < lo < 1 < hi:
            raise ValueError("wres_band must be (low, high) with low < 1 < high")
        return self
