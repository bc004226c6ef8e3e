# make setup | make series [PROFILE=auto|smoke|cpu|gpu] [DATA=demo|crohme|course] [RUN=name] [FROM=NN] | make test
PYTHON ?= python3
VENV   ?= .venv
PROFILE ?= auto
DATA    ?= demo
RUN     ?=
FROM    ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup series test clean-outputs

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import torch, torchvision, albumentations, papermill, nbval, editdistance, nltk, tqdm, matplotlib, ipycanvas, playwright"
	touch $(STAMP)

setup: $(STAMP)

series: $(STAMP)
	$(BIN)/python -m lib.series --profile $(PROFILE) --data $(DATA) $(if $(RUN),--run $(RUN)) $(if $(FROM),--from $(FROM))

test: $(STAMP)
	$(BIN)/python -m pytest

clean-outputs:
	rm -rf outputs/*/
