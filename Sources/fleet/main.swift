import FleetCLI

await Fleet.runMain()
