# All toolchains + codealign, for cluster nodes. The image is built by the same script a developer runs
# (scripts/setup.sh), so both get the same pinned toolchains. There is no image hub: the base is the
# debootstrap image scripts/docker_images.sh makes. Python packages come from the indexes the host's pip
# uses, passed as build args:
#   bash scripts/docker_images.sh
#   docker build --network host --build-arg PIP_INDEX_URL="$PIP_INDEX_URL" -t codealign .
#   docker run --rm codealign doctor
ARG BASE=codealign-base:bookworm
FROM ${BASE}
# Unset unless passed (an empty index URL would break pip).
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ENV PYTHON=/usr/bin/python3.11 \
    OMP_NUM_THREADS=1 \
    HF_HUB_OFFLINE=1 \
    CODEALIGN_DOCKER=0
RUN apt-get update && apt-get install -y --no-install-recommends bash util-linux ca-certificates git \
        python3.11 python3.11-venv
WORKDIR /opt/codealign
COPY . .
RUN bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
ENV PATH=/opt/codealign/.venv/bin:${PATH}
ENTRYPOINT ["codealign"]
CMD ["doctor"]
