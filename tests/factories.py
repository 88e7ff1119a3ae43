"""factory-boy factories for every model. Money as Decimal strings, never floats."""

import math
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from classrooms.models import Classroom
from ledger.models import Balance, Transaction
from portfolio.models import Holding
from prices.models import MarketEvent, Price, PriceHistory
from trading.models import Trade

PASSWORD = "correct-horse-battery-staple"


class ClassroomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Classroom
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Period {n + 1}")


class UserFactory(factory.django.DjangoModelFactory):
    """A user with no balance. Most tests want StudentFactory."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"student{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@school.example")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)


class StudentFactory(UserFactory):
    """A student with a balance opened the way registration opens it."""

    @factory.post_generation
    def cash(obj, create, extracted, **kwargs):
        if not create:
            return
        from ledger.services import open_account

        if not Balance.objects.filter(user=obj).exists():
            open_account(
                user=obj, starting_cash=Decimal(extracted) if extracted is not None else None
            )


class InstructorFactory(UserFactory):
    username = factory.Sequence(lambda n: f"instructor{n}")
    is_staff = True


class BalanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Balance

    user = factory.SubFactory(UserFactory)
    amount = Decimal("10000.00")


class TransactionFactory(factory.django.DjangoModelFactory):
    """A raw journal row; prefer the ledger services, which keep the balance in step."""

    class Meta:
        model = Transaction

    user = factory.SubFactory(UserFactory)
    type = Transaction.Type.DEPOSIT
    amount = Decimal("100.00")
    balance_after = Decimal("100.00")
    description = "Deposit"
    timestamp = factory.LazyFunction(timezone.now)


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"SYM{n}")
    name = factory.LazyAttribute(lambda o: f"{o.symbol} Corp")
    sector = "Technology"
    price = Decimal("100.00")
    previous_close = factory.LazyAttribute(lambda o: o.price)
    log_price = factory.LazyAttribute(lambda o: math.log(float(o.price)))
    drift = 0.08
    volatility = 0.25
    beta = 1.0


class PriceHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceHistory

    stock = factory.SubFactory(PriceFactory)
    price = Decimal("100.00")
    timestamp = factory.LazyFunction(timezone.now)


class MarketEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MarketEvent

    stock = factory.SubFactory(PriceFactory)
    percent = Decimal("-10.00")
    reason = "Earnings miss"


class HoldingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holding

    user = factory.SubFactory(StudentFactory)
    stock = factory.SubFactory(PriceFactory)
    quantity = 10
    average_price = Decimal("100.0000")


class TradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trade

    user = factory.SubFactory(StudentFactory)
    stock = factory.SubFactory(PriceFactory)
    operation = Trade.Operation.BUY
    quantity = 10
    price = Decimal("100.00")
    total = factory.LazyAttribute(lambda o: o.price * o.quantity)
    timestamp = factory.LazyFunction(timezone.now)
