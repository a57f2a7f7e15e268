import { main } from './main.js'

process.exitCode = await main(process.argv.slice(2), {
  stdin: process.stdin,
  print: (line) => console.log(line),
  env: process.env,
})
