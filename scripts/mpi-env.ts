// The environment of a process started by `mpirun` for the tests and the distributed bench on a
// single machine: root allowed (CI runs as root), more ranks than cores, one host without ssh
// (Open MPI looks for ssh even for a job on one host unless plm=isolated), and single-copy shared
// memory off (containers without CAP_SYS_PTRACE forbid process_vm_readv). Variables already set
// by the caller win, except the two that allow root.
export function mpirunEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    OMPI_ALLOW_RUN_AS_ROOT: '1',
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1',
    OMPI_MCA_plm: process.env.OMPI_MCA_plm ?? 'isolated',
    OMPI_MCA_btl_vader_single_copy_mechanism: process.env.OMPI_MCA_btl_vader_single_copy_mechanism ?? 'none',
    OMPI_MCA_rmaps_base_oversubscribe: '1',
    ...extra,
  };
}
