"""URL routing moto reads for FleetSSMBackend (it derives this module's name from the backend's)."""
from moto.ssm.urls import url_bases

from fleetsim.models import FleetSSMResponse

url_paths = {"{0}/$": FleetSSMResponse.dispatch}

__all__ = ["url_bases", "url_paths"]
