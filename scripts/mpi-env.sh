# Open MPI settings for running the job on this machine (source it: `. scripts/mpi-env.sh`).
# Root is allowed (containers and CI run as root), more ranks than cores are allowed, and
# the shared-memory transport is chosen explicitly (it saves ~200 ms of start-up per run).
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Idle ranks yield the core instead of spinning: with more ranks than cores a spinning
# rank steals the CPU that rank 0 needs while it reads the metadata.
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader}
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
