import FleetModel
// Discovery over a RemoteExecutor, clean plans and the rolling scheduler live here.
