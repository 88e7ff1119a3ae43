from django.core.management.base import BaseCommand, CommandError

from prices import scenario_runs, scenarios
from prices.models import MarketState, Scenario


class Command(BaseCommand):
    help = (
        "Market scenarios (stylized on history): list them, preview one's index path, start "
        "one, pause, resume or stop the running one. The shipped files in prices/scenarios/ "
        "are loaded first. Run as an operator: the actions are logged, not audited."
    )

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        commands.add_parser("list", help="the scenarios, and the one running or paused")
        for name, text in (
            ("preview", "print the summary of NAME's index path for a seed"),
            ("start", "start NAME from the next tick"),
        ):
            sub = commands.add_parser(name, help=text)
            sub.add_argument("name", metavar="NAME")
            sub.add_argument("--seed", type=int, help="default: the scenario's own seed")
        commands.add_parser("pause", help="pause the running scenario (its clock stops)")
        commands.add_parser("resume", help="resume the paused scenario")
        commands.add_parser("stop", help="stop the running or paused scenario for good")

    def handle(self, *args, action, **options):
        scenarios.sync_builtin()
        try:
            getattr(self, f"_{action}")(**options)
        except scenario_runs.BadScenario as exc:
            raise CommandError("The scenario has errors:\n- " + "\n- ".join(exc.errors)) from exc
        except scenario_runs.ScenarioRefused as exc:
            raise CommandError(exc.message) from exc

    def _list(self, **options):
        for scenario in Scenario.objects.select_related("uploaded_by"):
            origin = "shipped" if scenario.builtin else f"uploaded by {scenario.uploaded_by}"
            self.stdout.write(
                f"{scenario.name:<20} {scenario.days:>3} days  {scenario.title} ({origin})"
            )
        self._status()

    def _status(self):
        run = scenario_runs.live_run()
        if run is None:
            self.stdout.write("No scenario is running.")
            return
        state = MarketState.objects.filter(id=1).first() or MarketState()
        day = scenario_runs.day_now(run, state)
        self.stdout.write(
            f"{run.get_status_display()}: {run.scenario.name}, day {day} of "
            f"{run.scenario.days}, seed {run.seed}."
        )

    def _scenario(self, name) -> Scenario:
        scenario = Scenario.objects.filter(name=name).first()
        if scenario is None:
            raise scenario_runs.ScenarioRefused(scenario_runs.unknown_scenario(name))
        return scenario

    def _seed(self, seed):
        if seed is not None and not 0 <= seed <= scenarios.MAX_SEED:
            raise CommandError("--seed must be a whole number, 0 or more.")
        return seed

    def _preview(self, *, name, seed, **options):
        scenario = self._scenario(name)
        result = scenarios.preview(
            scenarios.script_of(scenario.source),
            seed=self._seed(seed),
            model=scenarios.market_model(),
        )
        self.stdout.write(scenario.title)
        self.stdout.write(result.summary())

    def _start(self, *, name, seed, **options):
        run = scenario_runs.start(name=name, seed=self._seed(seed))
        self.stdout.write(
            self.style.SUCCESS(
                f"Started {run.scenario.name} with seed {run.seed}: its day 1 is trading "
                f"day {run.start_day}, from the next tick."
            )
        )

    def _pause(self, **options):
        run = scenario_runs.pause()
        self.stdout.write(f"Paused {run.scenario.name} on its day {run.day_reached}.")

    def _resume(self, **options):
        run = scenario_runs.resume()
        self.stdout.write(f"Resumed {run.scenario.name} on its day {run.day_reached}.")

    def _stop(self, **options):
        run = scenario_runs.stop()
        self.stdout.write(f"Stopped {run.scenario.name} on its day {run.day_reached}.")
