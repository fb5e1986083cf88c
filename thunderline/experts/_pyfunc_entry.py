"""MLflow models-from-code entry point of every Thunderline expert (see thunderline.experts.model)."""

from mlflow.models import set_model

from thunderline.experts.model import ExpertPyfunc

set_model(ExpertPyfunc())
