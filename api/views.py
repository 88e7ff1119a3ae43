from django.views.decorators.csrf import csrf_exempt

from api.problems import Problem, problem_response


@csrf_exempt
def not_found(request, *args, **kwargs):
    return problem_response(
        request, Problem("not_found", "There is no such address in the TradeSim API (/api/v1/).")
    )
