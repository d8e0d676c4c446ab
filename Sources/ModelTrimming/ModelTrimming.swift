// Placeholder until the stage lands.
import ModelIR
