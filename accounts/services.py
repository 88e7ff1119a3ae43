"""Writes about people: registering a student opens their cash account in the same
database transaction, so a user never exists without a balance and its journal row;
joining a class puts a student in it and gives them its starting cash, together; log-in
cards are issued, revoked and used to log in.

Lock order when joining: the student's row, then the class's row, then their balance.
"""

import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts import card_sessions, cards, code_attempts
from accounts.models import LoginCard
from classrooms.rules import when
from classrooms.services import JoinRefused, UnknownCode, take_seat
from ledger.models import Transaction
from ledger.services import (
    DuplicateRequest,
    NoAccount,
    credit_starting_cash,
    lock_account,
    open_account,
)
from portfolio.selectors import holds_shares
from tradesim import audit
from tradesim.models import AuditEntry


class TooManyWrongCodes(JoinRefused):
    def __init__(self, until: datetime):
        super().__init__(
            f"Too many wrong class codes: try again after {when(until)}, or ask your teacher "
            "for the code."
        )
        self.until = until


def _check_attempts(key: tuple[str, int]) -> None:
    until = code_attempts.blocked_until(*key)
    if until is not None:
        raise TooManyWrongCodes(until)


def register_student(
    *,
    username: str,
    email: str,
    password: str,
    classroom=None,
    class_code: str | None = None,
    client_address: str | None = None,
):
    """Create a student, their balance and the starting-cash journal row, atomically;
    with `class_code`, in the class that has it, starting with its starting cash.

    Guarantees: either the user, their balance and the starting-cash row exist afterwards
    or none of them does. A class code is checked as join_class checks it (JoinRefused,
    nothing created); wrong codes count against `client_address` (there is no log-in
    yet), and too many raise TooManyWrongCodes. Locks: the class's row with a code
    (seats are counted under it); every row it writes is new.
    """
    User = get_user_model()
    attempts = code_attempts.for_address(client_address)
    if class_code:
        _check_attempts(attempts)
    with transaction.atomic():
        user = User.objects.create_user(
            username=username, email=email, password=password, classroom=classroom
        )
        if not class_code:
            open_account(user=user)
            return user
        try:
            classroom = take_seat(code=class_code, student=user)
        except UnknownCode:
            code_attempts.count_wrong(attempts[0])
            raise
        user.classroom = classroom
        user.save(update_fields=["classroom"])
        open_account(user=user, starting_cash=classroom.starting_cash)
    return user


def join_class(*, user, code: str):
    """Put `user`, a student, in the class whose join code is `code` and start them with
    its starting cash; returns the class.

    Guarantees (JoinRefused otherwise, with the reason for the student; see
    classrooms.services.take_seat): the code is a class's, in any case, spaces and hyphens
    ignored; the class has not ended, is open to joining and has a free seat, counted
    under its lock; the student is in no other class that has not ended. A late joiner
    is welcome. AlreadyInClass if they are in it already (nothing changes).
    Cash: everyone in a class starts equal, so the cash the student had is set aside
    (one `reset_debit` row, "Set aside on joining <class>: …") and the class's starting
    cash paid in (one `deposit` row, "Starting cash"); a student who holds shares is
    refused (they sell first, or their teacher moves them). All of it, with the move into
    the class, in one transaction, or nothing.
    Wrong codes: after code_attempts.PER_USER codes that match no class within
    code_attempts.WINDOW, every code is refused (TooManyWrongCodes) until it is over.
    Locks: the student's row (FOR NO KEY UPDATE), the class's row, the student's balance.
    """
    User = get_user_model()
    attempts = code_attempts.for_user(user)
    _check_attempts(attempts)
    with transaction.atomic():
        student = User.objects.select_for_update(no_key=True).get(pk=user.pk)
        try:
            classroom = take_seat(code=code, student=student)
        except UnknownCode:
            code_attempts.count_wrong(attempts[0])
            raise
        _start_with_class_cash(student=student, classroom=classroom)
        student.classroom = classroom
        student.save(update_fields=["classroom"])
    code_attempts.forget(attempts[0])
    user.classroom = classroom
    return classroom


def _start_with_class_cash(*, student, classroom) -> None:
    """Bring the joining student's cash to the class's starting cash, journaled. The
    one place that pays a class's starting cash to a student who has an account already:
    the cash they had is set aside, then ledger.credit_starting_cash pays the class's in
    (outside the class's deposit cap, once per student and class)."""
    try:
        account = lock_account(user=student)
    except NoAccount:
        raise JoinRefused("This login has no cash account, so it cannot join a class.") from None
    # Checked under the balance lock, which every order takes too.
    if account.held:
        raise JoinRefused(
            f"Everyone in {classroom.name} starts with cash only, and you have open orders: "
            "cancel them first, or ask your teacher to move you into the class."
        )
    if holds_shares(student):
        raise JoinRefused(
            f"Everyone in {classroom.name} starts with cash only, and you hold shares: sell "
            "them first, or ask your teacher to move you into the class."
        )
    start = classroom.starting_cash
    if account.amount > 0:
        account.post(
            type=Transaction.Type.RESET_DEBIT,
            amount=account.amount,
            description=f"Set aside on joining {classroom.name}: everyone in the class starts "
            f"with ${start:,.2f}",
        )
    if start > 0:
        student.classroom = classroom
        try:
            credit_starting_cash(user=student, amount=start)
        except DuplicateRequest:
            raise JoinRefused(
                f"You were given {classroom.name}'s starting cash before; ask your teacher "
                "to move you back into the class."
            ) from None


def move_student(*, student, classroom, by) -> AuditEntry | None:
    """An instructor puts `student` in `classroom` (None: in no class); returns the audit
    entry ("Moved alice from Period 1 to Period 2"), or None if they were there already.

    Not a join: no seat limit, no code, and the student's cash, shares and record stay as
    they are (the instructor can reset them). Guarantees: the move and its audit entry
    naming `by`, together. Locks: the student's row (FOR NO KEY UPDATE).
    """
    User = get_user_model()
    with transaction.atomic():
        locked = User.objects.select_for_update(no_key=True).get(pk=student.pk)
        if locked.classroom_id == (classroom.pk if classroom else None):
            return None
        before = locked.classroom
        locked.classroom = classroom
        locked.save(update_fields=["classroom"])
        name = locked.get_username()
        if before is None:
            detail = f"Put {name} in {classroom}"
        elif classroom is None:
            detail = f"Took {name} out of {before}"
        else:
            detail = f"Moved {name} from {before} to {classroom}"
        entry = audit.record(
            actor=by, action=AuditEntry.Action.MOVE_STUDENT, student=locked, detail=detail
        )
    student.classroom = classroom
    return entry


def enroll_students(*, students, password: str, classroom=None) -> list:
    """Register a roster of students who share one first password (hashed once, so a class
    of thirty takes a moment rather than thirty password hashes), each exactly as
    register_student does: the user, their balance and the starting-cash journal row (the
    class's starting cash when they go into `classroom`).

    `students` holds (username, email, first_name, last_name) tuples. Guarantees: all of
    them or none, in one transaction. Locks nothing: every row it writes is new.
    """
    from django.contrib.auth.hashers import make_password

    User = get_user_model()
    hashed = make_password(password)
    created = []
    with transaction.atomic():
        for username, email, first_name, last_name in students:
            user = User(
                username=username,
                email=User.objects.normalize_email(email),
                first_name=first_name,
                last_name=last_name,
                classroom=classroom,
                password=hashed,
            )
            user.save()
            open_account(user=user, starting_cash=classroom.starting_cash if classroom else None)
            created.append(user)
    return created


# No 0/o, 1/l/i: a password read off a screen and written down on paper.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def random_password() -> str:
    """A strong password that is easy to copy by hand: four groups of four characters,
    such as `k7dm-x3qa-9frt-hw2p` (31 characters to choose from: about 79 bits)."""
    groups = ("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


def create_instructor(*, username: str, email: str, password: str):
    """Create a staff user in the Instructors group (no cash account: instructors do not
    trade and are left out of the leaderboard). Validates the password like registration."""
    from django.contrib.auth.password_validation import validate_password

    from accounts.roles import ensure_instructor_group

    User = get_user_model()
    user = User(username=username, email=email, is_staff=True)
    validate_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.full_clean(exclude=["password"])
        user.save()
        user.groups.add(ensure_instructor_group())
    return user


# Log-in cards ----------------------------------------------------------------------------

CARD_ATTEMPTS = "login-card"
# Wrong card codes one client address may try per code_attempts.WINDOW: a whole school
# behind one address misreads a few (8 for B, 5 for S) without locking everyone out, and
# 300 guesses at 80-bit codes are still hopeless.
CARD_CODES_PER_ADDRESS = 300


class CardError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class CardRefused(CardError):
    """The code logs nobody in. One message for every reason, so that a code's owner,
    state or class cannot be learnt from the answer."""

    def __init__(self):
        super().__init__(
            "That code is not valid. Check it against your card, or ask your teacher for a "
            "new card."
        )


class CardsIssuedAlready(CardError):
    """This press of a button issued its cards already (the printed sheet reloaded, the
    button clicked twice): nothing was issued again, so the cards it issued still work.

    The message is true for a teacher who has that sheet and for one who never saw it (after
    a double click the browser shows only the second answer). `cards`: how many it issued."""

    def __init__(self, cards: int = 0):
        if cards == 1:
            printed = "This card was printed already"
            works = "its code works"
            again = "a new card, and the one printed before stops working"
        else:
            printed = "These cards were printed already"
            works = "its codes work"
            again = "new cards, and the ones printed before stop working"
        super().__init__(
            f"{printed}, by an earlier press of this button. If you have that sheet, {works}. "
            "If you don't (after a double click the browser shows only the last answer), "
            f"press the button again on this page: it prints {again}."
        )
        self.cards = cards


class TooManyCardCodes(CardError):
    def __init__(self, until: datetime):
        super().__init__(
            f"Too many card codes that did not work were typed on this network: try again "
            f"after {when(until)}, or log in with your password."
        )
        self.until = until


def _card_students(*, classroom, users):
    """`users` as they are now, each checked to be an active student of `classroom`
    (CardError otherwise), in the order of their names."""
    User = get_user_model()
    ids = {user.pk for user in users}
    found = list(
        User.objects.filter(
            pk__in=ids,
            classroom=classroom,
            is_active=True,
            is_staff=False,
            is_superuser=False,
        ).order_by("last_name", "first_name", "username")
    )
    if len(found) != len(ids):
        raise CardError(f"Cards are only for active students of {classroom.name}.")
    return found


def issue_cards(*, classroom, users, by, token: str | None = None) -> list[tuple]:
    """New log-in cards for `users`, active students of `classroom`: each one's live card
    for the class is revoked and a new one issued, audited (one entry per student, naming
    `by`). Returns [(user, code)] in the order of their names; the codes are stored only
    as digests (accounts.cards), so this is the one time they can be shown.

    Guarantees: all of it or nothing; at most one live card per student and class (the
    partial unique constraint backs it). Once per token (the console gives each button of
    each page it shows its own): the audit entries carry it, and while one of these students
    has a log-in card entry under it, issuing again raises CardsIssuedAlready and changes
    nothing. That is checked under the class's lock, so two requests with one token cannot
    both issue; the audit log's unique (student, token) pair backs it, and should it refuse
    the entries anyway (another kind of entry under that token), that is CardsIssuedAlready
    too, with nothing issued.
    Locks: the class's row, so two issues for one class run one after the other. A fixed
    number of queries, however many students.
    """
    try:
        with transaction.atomic():
            Classroom = type(classroom)
            Classroom.objects.select_for_update().filter(pk=classroom.pk).values_list("pk").first()
            students = _card_students(classroom=classroom, users=users)
            if not students:
                return []
            # Asked first: a second request with this token waited on the class's lock
            # above and now sees the first one's entries.
            if token:
                earlier = AuditEntry.objects.filter(
                    action=AuditEntry.Action.ISSUE_CARD, student__in=students, token=token
                ).count()
                if earlier:
                    raise CardsIssuedAlready(earlier)
            issued = _issue(classroom=classroom, students=students, by=by, token=token)
    except IntegrityError:
        if not token:
            raise
        under = list(
            AuditEntry.objects.filter(student__in=users, token=token).values_list(
                "action", flat=True
            )
        )
        if not under:
            raise
        raise CardsIssuedAlready(under.count(AuditEntry.Action.ISSUE_CARD)) from None
    return issued


def _issue(*, classroom, students, by, token: str | None) -> list[tuple]:
    now = timezone.now()
    old_cards = dict(
        LoginCard.objects.filter(
            classroom=classroom, user__in=students, revoked_at__isnull=True
        ).values_list("pk", "user_id")
    )
    replaced = set(old_cards.values())
    if old_cards:
        LoginCard.objects.filter(pk__in=old_cards, revoked_at__isnull=True).update(revoked_at=now)
        card_sessions.forget(old_cards)
    issued = [(student, cards.new_code()) for student in students]
    LoginCard.objects.bulk_create(
        LoginCard(
            user=student,
            classroom=classroom,
            digest=cards.digest(code),
            issued_at=now,
            issued_by=by,
        )
        for student, code in issued
    )
    AuditEntry.objects.bulk_create(
        AuditEntry(
            actor=by,
            action=AuditEntry.Action.ISSUE_CARD,
            student=student,
            detail=(
                f"Log-in card for {student.get_username()} in {classroom.name}"
                + ("; the old card no longer works" if student.pk in replaced else "")
            )[:300],
            created_at=now,
            token=token or None,
        )
        for student in students
    )
    return issued


def revoke_card(*, classroom, user, by) -> LoginCard | None:
    """Revoke `user`'s live log-in card for `classroom`, audited naming `by`; returns the
    card, or None when they have no live card there (nothing changes). The caller has
    checked that `by` runs the class. Locks: the card's row."""
    with transaction.atomic():
        card = (
            LoginCard.objects.select_for_update()
            .filter(classroom=classroom, user_id=user.pk, revoked_at__isnull=True)
            .first()
        )
        if card is None:
            return None
        card.revoked_at = timezone.now()
        card.save(update_fields=["revoked_at"])
        card_sessions.forget([card.pk])
        audit.record(
            actor=by,
            action=AuditEntry.Action.REVOKE_CARD,
            student=user,
            detail=f"Log-in card of {user.get_username()} in {classroom.name}",
        )
    return card


def login_by_card(request, code: str):
    """Log the client in as the student whose live card has this code, and return them.

    Refused (CardRefused, one message for every reason) unless the card is live, its
    student active, a student (never staff or a superuser) and still in the card's class.
    A refused code of the right shape counts against the client's address
    (code_attempts, kind CARD_ATTEMPTS); after CARD_CODES_PER_ADDRESS within the window
    every code is refused with TooManyCardCodes until it is over. A code that logs in
    counts for nothing.

    Cost: one HMAC per key, no password hash; one SELECT of the card with its student,
    one UPDATE of the card (last_used_at, and its digest under the current SECRET_KEY),
    then django.contrib.auth.login. The session ends when the browser closes: cards are
    for shared devices."""
    from django.contrib.auth import login

    from accounts.lockout import client_ip

    who = f"address:{client_ip(request) or 'unknown'}"
    until = code_attempts.blocked_until(who, CARD_CODES_PER_ADDRESS, kind=CARD_ATTEMPTS)
    if until is not None:
        raise TooManyCardCodes(until)
    code = cards.normalize(code)
    if not cards.is_well_formed(code):
        raise CardRefused()
    found = cards.digests(code)
    card = (
        LoginCard.objects.select_related("user")
        .filter(
            digest__in=found,
            revoked_at__isnull=True,
            user__is_active=True,
            user__is_staff=False,
            user__is_superuser=False,
            user__classroom=F("classroom"),
        )
        .first()
    )
    if card is None:
        code_attempts.count_wrong(who, kind=CARD_ATTEMPTS)
        raise CardRefused()
    LoginCard.objects.filter(pk=card.pk).update(last_used_at=timezone.now(), digest=found[0])
    login(request, card.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session.set_expiry(0)
    card_sessions.remember(request, card)
    return card.user
