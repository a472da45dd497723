"""Open data: a catalogue of datasets — the services' data (a service spec's ``open_data:`` block) and
tables the district uploads (:mod:`.tables`) — as DCAT JSON-LD (:mod:`.dcat`) and a page for people
(:mod:`.page`), with streamed downloads as CSV, JSON, JSON Lines and Parquet (:mod:`.download`,
:mod:`.formats`).  What a reader finds and downloads follows the one visibility model
(:mod:`citylink.access`): :mod:`.datasets` builds each dataset as its reader may see it.  Licences and
update frequencies are registries (:mod:`.licences`, :mod:`.frequency`)."""
from .datasets import Dataset, dataset, datasets
from .formats import FORMATS, Field, Format
from .frequency import FREQUENCIES, Frequency
from .licences import LICENCES, Licence

__all__ = ["FORMATS", "FREQUENCIES", "LICENCES", "Dataset", "Field", "Format", "Frequency", "Licence", "dataset",
           "datasets"]
