# make setup | make series [PROFILE=auto|smoke|cpu|gpu] [DATA=demo|crohme|course|im2latex|pages] [RUN=name] [FROM=NN]
#   [COURSE_DIR=dir] [PAGES_DIR=dir] [CROHME_DIR=dir] [IM2LATEX_DIR=dir] | make test
PYTHON ?= python3
VENV   ?= .venv
PROFILE ?= auto
DATA    ?= demo
RUN     ?=
FROM    ?=
COURSE_DIR ?=
PAGES_DIR ?=
CROHME_DIR ?=
IM2LATEX_DIR ?=
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
	$(BIN)/python -m lib.series --profile $(PROFILE) --data $(DATA) $(if $(RUN),--run $(RUN)) $(if $(FROM),--from $(FROM)) \
		$(if $(COURSE_DIR),-p course_dir=$(COURSE_DIR)) $(if $(PAGES_DIR),-p pages_dir=$(PAGES_DIR)) \
		$(if $(CROHME_DIR),-p crohme_dir=$(CROHME_DIR)) $(if $(IM2LATEX_DIR),-p im2latex_dir=$(IM2LATEX_DIR))

test: $(STAMP)
	$(BIN)/python -m pytest

clean-outputs:
	rm -rf outputs/*/
