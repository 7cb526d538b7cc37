import FleetModel
// Inventory parsing (fleet's own layout and Ansible's YAML layout) lives here.
