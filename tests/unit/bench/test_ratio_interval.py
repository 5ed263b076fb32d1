"""The cold-start ratio's interval: how far the run's own noise could move it."""

from __future__ import annotations

import statistics

from bench.coldstart import ratio_interval

FLOOR = [190.0, 192.0, 193.5, 195.0, 196.0, 198.0, 200.0, 201.0, 204.0, 207.0, 212.0]


def test_the_interval_holds_the_ratio_of_the_medians():
    function = [250.0, 252.0, 255.0, 258.0, 259.0, 261.0, 263.0, 266.0, 270.0, 275.0, 290.0]
    low, high = ratio_interval(function, FLOOR)
    ratio = statistics.median(function) / statistics.median(FLOOR)
    assert low < ratio < high
    assert 0 < high - low < 0.15


def test_the_same_samples_give_the_same_interval():
    function = [250.0, 262.0, 255.0, 271.0, 259.0, 248.0, 263.0]
    assert ratio_interval(function, FLOOR) == ratio_interval(list(function), list(FLOOR))


def test_without_noise_there_is_no_interval():
    assert ratio_interval([270.0] * 9, [200.0] * 30) == (1.35, 1.35)


def test_noisier_runs_give_wider_intervals():
    steady = [258.0, 259.0, 260.0, 260.5, 261.0, 262.0, 263.0]
    noisy = [230.0, 245.0, 252.0, 260.5, 270.0, 281.0, 300.0]
    steady_low, steady_high = ratio_interval(steady, FLOOR)
    noisy_low, noisy_high = ratio_interval(noisy, FLOOR)
    assert noisy_high - noisy_low > steady_high - steady_low
