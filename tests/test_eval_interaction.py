"""Reactor-vs-real-reactor errors relative to the partner, on bodies built with our FK."""
from __future__ import annotations

import numpy as np
import pytest

from inference_backend.body import BODY_JOINT_NAMES
from inference_backend.eval import interaction
from tests.test_eval_physics import FPS, standing

RW = BODY_JOINT_NAMES.index("right_wrist")


def test_rest_pose_faces_minus_y_and_turns_with_yaw():
    # atol: the measured rest skeleton is ~1 degree asymmetric.
    np.testing.assert_allclose(interaction.facing_direction(standing(1))[0], [0.0, -1.0], atol=0.03)
    np.testing.assert_allclose(interaction.facing_direction(standing(1, yaw=np.pi / 2))[0], [1.0, 0.0], atol=0.03)


def test_relative_position_is_in_the_partners_frame():
    partner = standing(5, yaw=np.pi / 2)            # faces +X, its left is +Y
    reactor = standing(5, xy=(1.5, 0.0), yaw=-np.pi / 2)  # 1.5 m in front of it, facing it
    rel = interaction.relative_position(reactor, partner)
    np.testing.assert_allclose(rel[:, :2], np.tile([1.5, 0.0], (5, 1)), atol=0.03)
    np.testing.assert_allclose(np.abs(interaction.relative_facing(reactor, partner)), np.pi, atol=1e-6)


def test_identical_reaction_has_zero_error_in_any_world_placement():
    partner = standing(30)
    real = standing(30, xy=(0.0, -1.0), yaw=np.pi)
    real[:, :, 1] += np.linspace(0, 0.5, 30)[:, None]  # walks towards the partner
    err = interaction.interaction_errors(real, real, partner, FPS)
    assert err["rel_position_error"] == pytest.approx(0.0, abs=1e-9)
    assert err["facing_error_deg"] == pytest.approx(0.0, abs=1e-6)
    assert err["distance_mae"] == pytest.approx(0.0, abs=1e-9)
    assert err["distance_corr"] == pytest.approx(1.0)


def test_errors_measure_offset_turn_and_distance():
    partner = standing(30)
    real = standing(30, xy=(0.0, -1.0), yaw=np.pi)
    real[:, :, 1] += np.linspace(0, 0.5, 30)[:, None]
    shifted = real.copy()
    shifted[:, :, 0] += 0.3                     # 30 cm to the side
    err = interaction.interaction_errors(shifted, real, partner, FPS)
    assert err["rel_position_error"] == pytest.approx(0.3, abs=1e-6)
    assert err["facing_error_deg"] == pytest.approx(0.0, abs=1e-6)
    turned = standing(30, xy=(0.0, -1.0), yaw=np.pi + np.radians(40))
    turned[:, :, 1] += np.linspace(0, 0.5, 30)[:, None]
    assert interaction.interaction_errors(turned, real, partner, FPS)["facing_error_deg"] == pytest.approx(40.0, abs=1e-4)
    away = standing(30, xy=(0.0, -1.0), yaw=np.pi)
    away[:, :, 1] -= np.linspace(0, 0.5, 30)[:, None]  # walks away instead
    err = interaction.interaction_errors(away, real, partner, FPS)
    assert err["distance_corr"] == pytest.approx(-1.0, abs=1e-6)
    assert err["distance_mae"] == pytest.approx(0.5, abs=0.02)


def _handshake(t=60, onset=20, length=20):
    """Partner stands; the reactor's right wrist reaches the partner's right wrist in [onset, onset+length)."""
    partner = standing(t, yaw=0.0)
    reactor = standing(t, xy=(0.0, -1.2), yaw=np.pi)
    reactor[onset:onset + length, RW] = partner[onset:onset + length, RW] + [0.0, 0.0, 0.05]
    return partner, reactor


def test_contact_onset_and_iou():
    partner, real = _handshake(onset=20)
    _, late = _handshake(onset=26)
    c = interaction.contact_timing(late, real, partner, FPS)
    assert c["onset_error_s"] == pytest.approx(6 / FPS)
    assert c["iou"] == pytest.approx(14 / 26)
    same = interaction.contact_timing(real, real, partner, FPS)
    assert same["onset_error_s"] == 0.0 and same["iou"] == 1.0
    never = standing(60, xy=(0.0, -1.2), yaw=np.pi)
    miss = interaction.contact_timing(never, real, partner, FPS)
    assert np.isnan(miss["onset_error_s"]) and miss["missed"] == "generated" and miss["iou"] == 0.0


def test_unknown_contact_joint_is_named():
    partner, real = _handshake()
    with pytest.raises(ValueError, match="right_hand"):
        interaction.contact_frames(real, partner, pairs=(("right_hand", "right_wrist"),))
    with pytest.raises(ValueError, match="same frames"):
        interaction.interaction_errors(real[:10], real, partner, FPS)
