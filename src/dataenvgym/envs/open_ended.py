"""Open-Ended: the state is every evaluated validation instance; the action is any data."""

from __future__ import annotations

from dataenvgym.envs.base import TeacherEnv
from dataenvgym.types import OpenEndedAction, OpenEndedObservation


class OpenEndedEnv(TeacherEnv[OpenEndedObservation, OpenEndedAction]):
    """The least structured environment: the agent sees the student's answers, writes data."""

    action_model = OpenEndedAction
    observation_model = OpenEndedObservation
    env_name = "open-ended"

    def _validate(self, action: OpenEndedAction) -> None:
        # Any data within the budget is a valid open-ended action; the common checks
        # (domain, budget, well-formed data) have already run.
        return None

    def _observation(self) -> OpenEndedObservation:
        return OpenEndedObservation(
            **self._base_observation_fields(), evaluated=list(self.val_result.instances)
        )
