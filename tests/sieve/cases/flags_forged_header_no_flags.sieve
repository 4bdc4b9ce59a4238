# message: flags_forged.eml
# no flags set: the forged field still goes
keep;
