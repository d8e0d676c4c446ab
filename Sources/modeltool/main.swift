print("modeltool")
