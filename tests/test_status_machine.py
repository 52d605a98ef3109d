import pytest

from changemgmt.domain.errors import TransitionError
from changemgmt.domain.status import Status, allowed_transitions, check_transition

ALLOWED = {
    (Status.DRAFT, Status.TENTATIVE),
    (Status.DRAFT, Status.CONFIRMED),
    (Status.DRAFT, Status.CANCELLED),
    (Status.TENTATIVE, Status.CONFIRMED),
    (Status.TENTATIVE, Status.IN_PROGRESS),
    (Status.TENTATIVE, Status.CANCELLED),
    (Status.CONFIRMED, Status.IN_PROGRESS),
    (Status.CONFIRMED, Status.CANCELLED),
    (Status.IN_PROGRESS, Status.COMPLETED),
    (Status.IN_PROGRESS, Status.CANCELLED),
}
EVERY_PAIR = [(a, b) for a in Status for b in Status]


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_it_allows_the_transitions_of_the_spec(current, target):
    check_transition(current, target)
    assert target in allowed_transitions(current)


@pytest.mark.parametrize(("current", "target"), [p for p in EVERY_PAIR if p not in ALLOWED])
def test_it_refuses_every_other_transition_naming_the_status(current, target):
    with pytest.raises(TransitionError) as error:
        check_transition(current, target)
    assert error.value.field == "status"
    assert f"{current.value} -> {target.value}" in str(error.value)


def test_final_statuses_say_they_are_final():
    with pytest.raises(TransitionError, match="final"):
        check_transition(Status.COMPLETED, Status.CANCELLED)


@pytest.mark.parametrize(
    ("status", "ical", "maintnote"),
    [
        (Status.TENTATIVE, "TENTATIVE", "TENTATIVE"),
        (Status.CONFIRMED, "CONFIRMED", "CONFIRMED"),
        (Status.IN_PROGRESS, "CONFIRMED", "IN-PROCESS"),
        (Status.COMPLETED, "CONFIRMED", "COMPLETED"),
        (Status.CANCELLED, "CANCELLED", "CANCELLED"),
    ],
)
def test_it_maps_statuses_to_icalendar_and_maintnote(status, ical, maintnote):
    assert (status.ical_status, status.maintnote_status) == (ical, maintnote)


def test_status_parse_names_the_allowed_values():
    assert Status.parse("In-Progress") is Status.IN_PROGRESS
    with pytest.raises(ValueError, match="not a status"):
        Status.parse("approved")
